/**
 * Long computations spread over several turns of the event loop: a generator of steps (the domain
 * yields every so many positions, report.ts `reportSteps`) run a few milliseconds at a time, so
 * that HTTP requests and batches go on between the slices instead of waiting for the whole.
 */

/**
 * Runs `steps` to the end, yielding to the event loop whenever a slice has taken `sliceMs`.
 * `busy.ms` grows by the time spent in the steps themselves (not in what ran between slices).
 */
export async function runSliced<T>(steps: Generator<void, T>, sliceMs = 4, busy?: { ms: number }): Promise<T> {
  let from = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done === true) {
      if (busy !== undefined) busy.ms += performance.now() - from;
      return r.value;
    }
    const now = performance.now();
    if (now - from >= sliceMs) {
      if (busy !== undefined) busy.ms += now - from;
      await new Promise((resolve) => setImmediate(resolve));
      from = performance.now();
    }
  }
}
