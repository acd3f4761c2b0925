/**
 * The cost of the service's metrics on its hot path, without I/O: the same generated events
 * booked into a Ledger in batches, with and without the per-event tally and the per-batch
 * hand-over to prom-client (`EventTally` + `ServiceMetrics.booked` + `committed`), and the tally
 * alone. Prints ns per event for each and the overhead as a share of booking.
 *
 * Flags: --fills N (default 300000), --batch N (default 1000), --runs N (default 5; the median
 * is reported). Run: npm run build && node --max-semi-space-size=64 dist/bench/metrics.js
 */
import { generateLog } from './generate.js';
import { isMain } from './main.js';
import { ServiceMetrics } from '../src/adapters/metrics/metrics.js';
import { EventTally } from '../src/app/observer.js';
import type { LedgerEvent } from '../src/domain/events.js';
import { Ledger } from '../src/domain/ledger.js';
import { decodeTradeLine } from '../src/domain/tradeline.js';
import { validateEvent } from '../src/domain/validate.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

function events(fills: number): LedgerEvent[] {
  const ledger = new Ledger({});
  const out: LedgerEvent[] = [];
  generateLog({ fills, seed: 42, instruments: 50, venues: 5, pricesEvery: 1000 }, (line) => {
    const e = decodeTradeLine(line, ledger.instruments) ?? validateEvent(JSON.parse(line), ledger.instruments);
    if ('ok' in e) {
      if (!e.ok) throw new Error(line);
      out.push(e.event);
    } else out.push(e);
  });
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** ns per event of booking every event in batches, calling `perEvent` and `perBatch` as the service does. */
function run(es: readonly LedgerEvent[], batch: number, book: boolean, metrics: ServiceMetrics | undefined): number {
  const ledger = new Ledger({ defaults: { method: 'fifo', fees: 'separate', pool: 'book' }, retain: true });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < es.length; i += batch) {
    const tally = metrics === undefined ? undefined : new EventTally(performance.now(), batch);
    const end = Math.min(es.length, i + batch);
    for (let j = i; j < end; j++) {
      const e = es[j]!;
      if (book) ledger.submit(e);
      tally?.bookedEvent(e);
    }
    if (metrics !== undefined && tally !== undefined) {
      metrics.committed(0.002, end - i);
      metrics.booked(tally, performance.now());
    }
  }
  return Number(process.hrtime.bigint() - t0) / es.length;
}

export function runMetricsBench(fills: number, batch: number, runs: number): { bookNs: number; bookWithMetricsNs: number; tallyOnlyNs: number; overheadPct: number } {
  const es = events(fills);
  const metrics = new ServiceMetrics({ processMetrics: false });
  const book: number[] = [];
  const withMetrics: number[] = [];
  const tallyOnly: number[] = [];
  for (let r = 0; r < runs; r++) {
    book.push(run(es, batch, true, undefined));
    withMetrics.push(run(es, batch, true, metrics));
    tallyOnly.push(run(es, batch, false, metrics));
  }
  const bookNs = median(book);
  const bookWithMetricsNs = median(withMetrics);
  return { bookNs, bookWithMetricsNs, tallyOnlyNs: median(tallyOnly), overheadPct: (100 * median(tallyOnly)) / bookNs };
}

if (isMain(import.meta.url)) {
  const r = runMetricsBench(flag('--fills', 300_000), flag('--batch', 1000), flag('--runs', 5));
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}
