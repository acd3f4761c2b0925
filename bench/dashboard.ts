/**
 * The dashboard under load (issue 5 "Speed": no frame over 100 ms of scripting with 1,000 rows
 * updating). The service on the embedded store (with --postgres on a fresh PostgreSQL database on
 * 127.0.0.1, as bench/api.ts), auth off; 1,000 assets each marked and bought in
 * book `mm`, so the grid holds 1,000 rows; the page open in headless Chromium (Debian's
 * /usr/bin/chromium via playwright-core); then for --seconds (default 3) a batch of 1,000 fills
 * (one per asset) and 1,000 new marks is posted every --every-ms (default 200), so every row
 * changes in every delta (the WebSocket sends at most 10 a second per book).
 *
 * Measured in the page: long tasks (PerformanceObserver 'longtask': any task over 50 ms), the
 * largest gap between animation frames, the dashboard's own largest render() time, and how many
 * times it drew (per second: how hard the page was driven). Exit code 1 if a task took over 100 ms.
 *
 * Why a benchmark and not a timed test: timings on a shared CI machine are noise, and the house
 * style keeps timed checks in bench/ (../shared/STYLE.md). The functional e2e test
 * (test/e2e/dashboard.e2e.test.ts) runs in `npm test`.
 *
 *   npm run build && node dist/bench/dashboard.js [--rows 1000] [--seconds 3] [--every-ms 200] [--postgres]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { isMain } from './main.js';
import { freshDb } from './service.js';
import { DEFAULT_SERVICE_CONFIG } from '../src/app/service.js';
import { DEFAULT_START, startService } from '../src/app/start.js';

interface Options { rows: number; seconds: number; everyMs: number; postgres: boolean }

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? undefined : Number(process.argv[i + 1]);
  return v !== undefined && Number.isInteger(v) && v > 0 ? v : fallback;
}

const asset = (i: number): string => `X${String(i).padStart(4, '0')}`;

/**
 * One mark and one fill per asset, at `round` (seconds after the start of the day): the marks
 * first, and ids that sort in the order they are sent (events of one instant book in id order).
 * Otherwise each mark, and each fill whose id sorts before the last one booked (f-1-10 < f-1-9),
 * is a late event that rebooks what came before it at that instant: a quadratic batch that took
 * the service over a second, so the page saw a delta a second instead of ten.
 */
function batch(rows: number, round: number): object[] {
  const ts = new Date(Date.UTC(2026, 0, 2) + round * 1000).toISOString();
  const marks: object[] = [];
  const fills: object[] = [];
  for (let i = 0; i < rows; i++) {
    // Prices wander by whole cents so values and PnL change in every row (exact strings).
    const price = `${100 + (i % 50)}.${String((round * 7 + i) % 100).padStart(2, '0')}`;
    marks.push({ type: 'price', id: `p-${round}-${asset(i)}`, ts, asset: asset(i), quote: 'USD', price });
    fills.push({ type: 'trade', id: `f-${round}-${asset(i)}`, ts, book: 'mm', venue: `v${i % 5}`, instrument: `${asset(i)}/USD`, side: round % 3 === 2 ? 'sell' : 'buy', qty: '0.5', price });
  }
  return [...marks, ...fills];
}

export async function benchDashboard(o: Options): Promise<{ longTasks: number[]; frameGapMsMax: number; renderMsMax: number; messageMsMax: number; renders: number; rounds: number; postMs: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'utl-bench-dashboard-'));
  const db = o.postgres ? await freshDb() : undefined;
  const running = await startService({
    ...DEFAULT_START,
    service: { ...DEFAULT_SERVICE_CONFIG, settings: { method: 'fifo', fees: 'separate', pool: 'book' } },
    ...(db === undefined ? { dataDir: join(dir, 'data') } : { databaseUrl: db.url }),
    port: 0,
    logLevel: 'silent',
    auth: 'off',
  });
  const post = async (events: object[]): Promise<void> => {
    const r = await fetch(`${running.url}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
    if (r.status !== 200) throw new Error(`POST /events: HTTP ${r.status} ${await r.text()}`);
  };
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    // A deposit of cash first, so that the buys are funded; then the first round.
    await post([{ type: 'deposit', id: 'cash', ts: '2026-01-01T00:00:00Z', book: 'mm', venue: 'v0', asset: 'USD', qty: '1000000000' }]);
    await post(batch(o.rows, 0));
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${running.url}/`);
    // In-page code as strings: this project's TypeScript has no DOM types.
    await page.waitForFunction(`window.utlDashboard?.rows() >= ${o.rows}`, undefined, { timeout: 30_000 });
    // Watch from now on: long tasks and the gaps between animation frames.
    await page.evaluate(`(() => {
      window.bench = { longTasks: [], gapMax: 0, last: performance.now() };
      new PerformanceObserver((list) => { for (const e of list.getEntries()) window.bench.longTasks.push(e.duration); }).observe({ type: 'longtask' });
      const tick = (t) => { window.bench.gapMax = Math.max(window.bench.gapMax, t - window.bench.last); window.bench.last = t; requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    })()`);
    const rendersBefore = await page.evaluate<number>('window.utlDashboard.stats.renders');
    const end = Date.now() + o.seconds * 1000;
    let rounds = 0;
    let postMs = 0;
    for (let round = 1; Date.now() < end; round++) {
      const t0 = Date.now();
      await post(batch(o.rows, round));
      rounds++;
      postMs += Date.now() - t0;
      await new Promise((r) => setTimeout(r, Math.max(0, o.everyMs - (Date.now() - t0))));
    }
    await new Promise((r) => setTimeout(r, 500));
    const m = await page.evaluate<{ longTasks: number[]; frameGapMsMax: number; renderMsMax: number; messageMsMax: number; renders: number }>(
      '({ longTasks: window.bench.longTasks, frameGapMsMax: window.bench.gapMax, renderMsMax: window.utlDashboard.stats.renderMsMax, messageMsMax: window.utlDashboard.stats.messageMsMax, renders: window.utlDashboard.stats.renders })',
    );
    return { ...m, renders: m.renders - rendersBefore, rounds, postMs: postMs / Math.max(1, rounds) };
  } finally {
    await browser.close();
    await running.stop();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  const o: Options = { rows: flag('rows', 1000), seconds: flag('seconds', 3), everyMs: flag('every-ms', 200), postgres: process.argv.includes('--postgres') };
  const r = await benchDashboard(o);
  const worst = Math.max(0, ...r.longTasks);
  console.log(`dashboard, ${o.rows} rows, ${o.postgres ? 'PostgreSQL' : 'embedded store'}, a batch every ${o.everyMs} ms for ${o.seconds} s (${r.rounds} posted, ${r.postMs.toFixed(0)} ms each): ${r.renders} renders (${(r.renders / o.seconds).toFixed(1)}/s); ` +
    `render() max ${r.renderMsMax.toFixed(1)} ms; a WebSocket message max ${r.messageMsMax.toFixed(1)} ms; long tasks (> 50 ms) ${r.longTasks.length}, worst ${worst.toFixed(1)} ms; ` +
    `largest gap between frames ${r.frameGapMsMax.toFixed(1)} ms`);
  if (worst > 100) {
    console.error('FAIL: a task took over 100 ms');
    process.exitCode = 1;
  }
}
