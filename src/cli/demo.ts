/**
 * `utl demo`: the service on the embedded defaults (PGlite in a temporary folder, the in-process
 * bus, reconciliation and alerts on) with the simulated desk of src/app/demo/ streaming into it,
 * the URLs to look at, and a line now and then saying what happened (breaks opened and closed).
 * Runs until Ctrl-C or `--duration`.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DESK } from '../app/demo/desk.js';
import { DEFAULT_RUNNER, DemoRunner } from '../app/demo/runner.js';
import { DEFAULT_SERVICE_CONFIG } from '../app/service.js';
import { DEFAULT_START, startService, type Running } from '../app/start.js';
import type { Break } from '../domain/recon/breaks.js';

export interface DemoFlags {
  host: string;
  port: number;
  /** Undefined: a temporary folder, removed at exit. */
  data?: string;
  seed: number;
  rate: number;
  /** Seconds; undefined: until Ctrl-C. */
  duration?: number;
  logLevel: string;
}

/** A status line this often. */
const STATUS_EVERY_MS = 10_000;
/** New and closed breaks are looked for this often. */
const BREAKS_EVERY_MS = 1_000;

const n = (x: number): string => x.toLocaleString('en-US');

export async function runDemo(flags: DemoFlags, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const temporary = flags.data === undefined;
  const dataDir = flags.data ?? (await mkdtemp(join(tmpdir(), 'utl-demo-')));
  if (!temporary && (await readdir(dataDir).catch(() => [])).length > 0) {
    err.write(`utl demo: ${dataDir} is not empty: the demo's desk starts from nothing, so give it a new folder (or leave out --data)\n`);
    return 2;
  }
  let running: Running;
  try {
    running = await startService({
      ...DEFAULT_START,
      service: { ...DEFAULT_SERVICE_CONFIG, settings: { method: 'fifo', fees: 'separate', pool: 'book' } },
      dataDir,
      host: flags.host,
      port: flags.port,
      logLevel: flags.logLevel,
    });
  } catch (e) {
    if (temporary) await rm(dataDir, { recursive: true, force: true });
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      err.write(`utl demo: port ${flags.port} is in use: try --port ${flags.port + 1} (or --port 0 for any free port)\n`);
      return 2;
    }
    throw e;
  }
  const url = running.url;
  const runner = new DemoRunner(
    { service: running.service, bus: running.bus, subjectPrefix: DEFAULT_START.subjectPrefix },
    { ...DEFAULT_DESK, seed: flags.seed, ratePerSec: flags.rate },
    { ...DEFAULT_RUNNER, durationMs: flags.duration === undefined ? undefined : flags.duration * 1000 },
  );
  out.write(
    [
      `utl demo: a simulated desk (seed ${flags.seed}, about ${n(flags.rate)} events/s) streaming into UTL at ${url}`,
      `  market maker (book mm) on binance, okx, coinbase, kraken, bybit: spot BTC/ETH/SOL-USDT, perpetuals BTC/ETH-USDT:USDT`,
      `  OTC blocks (book otc) with cumberland; transfers between venues; funding; venue balance reports with the odd break`,
      ``,
      `  dashboard  ${url}/`,
      `  positions  ${url}/positions`,
      `  books      ${url}/books`,
      `  exposure   ${url}/exposure`,
      `  breaks     ${url}/breaks`,
      `  alerts     ${url}/alerts`,
      `  API docs   ${url}/docs`,
      ``,
      `  data: ${dataDir}${temporary ? ' (removed at exit)' : ''}. ${flags.duration === undefined ? 'Ctrl-C to stop.' : `Stops after ${flags.duration} s.`}`,
      ``,
    ].join('\n'),
  );

  const seen = new Map<string, Break['status']>();
  const watchBreaks = (): void => {
    for (const b of running.recon.breaks.list()) {
      const before = seen.get(b.id);
      if (before === b.status) continue;
      seen.set(b.id, b.status);
      const cell = `${b.venue} ${b.asset}: venue ${b.venueQty}, UTL ${b.utlQty} (diff ${b.diff})`;
      if (before === undefined && b.status === 'open') out.write(`break opened   ${cell}\n${b.explanation.suggestions.map((s) => `  suggests ${s.cause}: ${s.message}\n`).join('')}`);
      else if (b.status === 'auto_resolved') out.write(`break resolved ${b.venue} ${b.asset}: a later report agrees\n`);
    }
  };
  const startedMs = Date.now();
  const status = (): void => {
    const s = running.service.stats;
    const open = running.recon.breaks.active().length;
    out.write(`utl demo: ${Math.round((Date.now() - startedMs) / 1000)} s, ${n(runner.sent)} events sent (${n(runner.trades)} trades), seq ${n(s.lastSeq)} booked, ${open} break${open === 1 ? '' : 's'} open, ${runner.desk.injections.length} injected\n`);
  };
  const timers = [setInterval(watchBreaks, BREAKS_EVERY_MS), setInterval(status, STATUS_EVERY_MS)];

  const loop = runner.start();
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  try {
    await Promise.race([loop, signalled]);
  } finally {
    for (const t of timers) clearInterval(t);
    await runner.stop().catch((e: unknown) => err.write(`utl demo: the desk failed: ${String(e)}\n`));
    watchBreaks();
    status();
    await running.stop();
    if (temporary) await rm(dataDir, { recursive: true, force: true });
  }
  return 0;
}
