/**
 * Durations in config files: `30s`, `15m`, `24h`, `7d`, `250ms`, or several parts (`1h30m`).
 * Whole milliseconds, never negative; a bare number is refused (its unit would be a guess).
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d{1,9})(ms|s|m|h|d)/y;
/** The longest duration accepted (a year): keeps every sum of durations a safe integer. */
export const MAX_DURATION_MS = 366 * 86_400_000;

/** Milliseconds of a duration text, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (text === '') return undefined;
  let ms = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const m = PART.exec(text);
    if (m === null) return undefined;
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return ms <= MAX_DURATION_MS ? ms : undefined;
}

/** The shortest text of a duration (`90000` → `1m30s`), for summaries. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.max(0, Math.round(ms));
  let out = '';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
