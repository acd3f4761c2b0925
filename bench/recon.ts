/**
 * Reconciliation benchmark (issue 4): 100 venues × 500 assets = 50,000 venue balance reports held
 * against the books, each as of its own report's instant (every venue reports at its own time, with
 * fills after it that must not count). Target: under 1 s.
 *
 *   node dist/bench/recon.js [--venues 100] [--assets 500] [--books 4] [--fills 200000] [--runs 5] [--disagree 0.01]
 *
 * The reports are built from balances tracked while generating the log (not by the code under
 * test), and a fraction of them is perturbed: the run checks that exactly those open breaks, so a
 * fast wrong answer cannot pass. Prints the median and every run; the ledger build is reported
 * beside it.
 */
import { Dec } from '../src/domain/decimal.js';
import type { BalanceEvent, LedgerEvent } from '../src/domain/events.js';
import { Ledger } from '../src/domain/ledger.js';
import { balancesAsOf } from '../src/domain/recon/asof.js';
import { reconcileBalances } from '../src/domain/recon/balances.js';
import { BreakBook } from '../src/domain/recon/breaks.js';
import { DEFAULT_TOLERANCES } from '../src/domain/recon/tolerance.js';
import { mulberry32 } from './generate.js';

interface Args {
  venues: number;
  assets: number;
  books: number;
  fills: number;
  runs: number;
  disagree: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { venues: 100, assets: 500, books: 4, fills: 200_000, runs: 5, disagree: 0.01 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]!.replace(/^--/, '') as keyof Args;
    if (!(k in a)) throw new Error(`unknown flag ${argv[i]}`);
    a[k] = Number(argv[i + 1]);
  }
  return a;
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const T0 = Date.UTC(2026, 2, 2, 8) * 1000;
const HOUR = 3_600_000_000;

function build(a: Args): { ledger: Ledger; reports: BalanceEvent[]; perturbed: Set<string>; ms: number } {
  const r = mulberry32(42);
  const t0 = performance.now();
  const ledger = new Ledger({ reporting: 'USD' });
  const asset = (i: number): string => `A${i}`;
  const venue = (i: number): string => `v${i}`;
  const submit = (e: LedgerEvent): void => {
    const out = ledger.submit(e);
    if (out.status === 'rejected' || out.status === 'unbooked') throw new Error(`${e.id}: ${out.message}`);
  };
  // Marks, then a deposit of every asset at every venue (so every cell has a balance).
  for (let k = 0; k < a.assets; k++) submit({ type: 'price', id: `m${k}`, ts: T0, asset: asset(k), quote: 'USD', price: Dec.int(10 + k) });
  const held = new Map<string, Dec>(); // venue/asset → quantity, tracked here, not by the ledger
  const key = (v: number, k: number): string => `${v}/${k}`;
  let n = 0;
  for (let v = 0; v < a.venues; v++) {
    for (let k = 0; k < a.assets; k++) {
      const qty = Dec.int(1000 + Math.floor(r() * 1000));
      submit({ type: 'deposit', id: `d${String(n++).padStart(8, "0")}`, ts: T0, book: `b${(v + k) % a.books}`, venue: venue(v), account: 'main', asset: asset(k), qty, cost: undefined });
      held.set(key(v, k), qty);
    }
  }
  // Each venue reports at its own instant in the last 10 minutes of the hour.
  const reportTs = Array.from({ length: a.venues }, () => T0 + HOUR - Math.floor(r() * 600_000_000));
  const order = [...reportTs.keys()].sort((x, y) => reportTs[x]! - reportTs[y]!);
  const reports: BalanceEvent[] = [];
  const perturbed = new Set<string>();
  let next = 0;
  const snapshot = (upTo: number): void => {
    while (next < order.length && reportTs[order[next]!]! < upTo) {
      const v = order[next++]!;
      for (let k = 0; k < a.assets; k++) {
        const id = `r-${v}-${k}`;
        let total = held.get(key(v, k))!;
        if (r() < a.disagree) {
          total = total.add(Dec.of('0.5'));
          perturbed.add(`brk:${id}`);
        }
        reports.push({ type: 'balance', id, ts: reportTs[v]!, book: undefined, venue: venue(v), account: 'main', asset: asset(k), total, free: undefined, used: undefined });
      }
    }
  };
  const step = Math.floor(HOUR / a.fills);
  for (let i = 0; i < a.fills; i++) {
    const ts = T0 + 1 + i * step;
    snapshot(ts);
    const v = Math.floor(r() * a.venues);
    const k = Math.floor(r() * a.assets);
    const buy = r() < 0.5;
    const qty = Dec.int(1 + Math.floor(r() * 5));
    submit({ type: 'trade', id: `f${i}`, ts, book: `b${Math.floor(r() * a.books)}`, venue: venue(v), account: 'main', instrument: `${asset(k)}/USD`, side: buy ? 'buy' : 'sell', qty, price: Dec.int(10 + k), fees: [] });
    held.set(key(v, k), held.get(key(v, k))!.add(buy ? qty : qty.neg()));
  }
  snapshot(Number.MAX_SAFE_INTEGER);
  return { ledger, reports, perturbed, ms: performance.now() - t0 };
}

function main(): void {
  const a = parseArgs(process.argv.slice(2));
  const { ledger, reports, perturbed, ms } = build(a);
  process.stdout.write(`ledger: ${a.books} books, ${a.venues} venues × ${a.assets} assets, ${a.fills} fills (+${a.venues * a.assets} deposits), built in ${(ms / 1000).toFixed(1)} s\n`);
  const times: number[] = [];
  for (let run = 0; run < a.runs; run++) {
    const breaks = new BreakBook();
    const t0 = performance.now();
    const r = reconcileBalances(ledger, breaks, reports, { tolerances: DEFAULT_TOLERANCES, atMs: 0, fundingIntervalUs: 8 * HOUR });
    const t = performance.now() - t0;
    times.push(t);
    const opened = new Set(breaks.active().map((b) => b.id));
    const wrong = [...opened].filter((id) => !perturbed.has(id)).length + [...perturbed].filter((id) => !opened.has(id)).length;
    if (wrong > 0 || r.deferred.length > 0) throw new Error(`wrong answer: ${wrong} breaks differ from the ${perturbed.size} perturbed reports, ${r.deferred.length} deferred`);
    process.stdout.write(`run ${run + 1}: ${reports.length} reports in ${t.toFixed(0)} ms (${opened.size} breaks, each explained)\n`);
  }
  // Where the time goes: the as-of balances alone (one replay per book from its snapshot before the first report).
  const asOf: number[] = [];
  for (let run = 0; run < a.runs; run++) {
    const t0 = performance.now();
    balancesAsOf(ledger, reports.map((x) => ({ ts: x.ts, venue: x.venue, account: x.account, asset: x.asset, book: x.book })));
    asOf.push(performance.now() - t0);
  }
  process.stdout.write(`of which as-of balances alone: median ${median(asOf).toFixed(0)} ms\n`);
  const m = median(times);
  process.stdout.write(`median: ${m.toFixed(0)} ms for ${reports.length} reports = ${Math.round(reports.length / (m / 1000))} reports/s (target: < 1000 ms)\n`);
}

main();
