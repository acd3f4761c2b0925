/**
 * The demo end to end on a real PostgreSQL: the runner drives the simulated desk into
 * `startService` through the in-process bus for a few seconds of wall-clock time, and the API
 * shows positions on every venue, spot and perpetuals with PnL, injected breaks open and
 * explained, no rejected or unbooked events, and no break where nothing was injected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/support/pg.js';
import { serviceConfig, startOptions, waitUntil } from '../../../test/support/service.js';
import { DEFAULT_START, startService, type Running } from '../start.js';
import { DEFAULT_DESK, VENUES } from './desk.js';
import { DEFAULT_RUNNER, DemoRunner } from './runner.js';

type Json = Record<string, unknown>;

describe('utl demo against the service', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let running: Running;
  let runner: DemoRunner;
  let loop: Promise<void>;
  const get = async (path: string): Promise<Json> => (await (await fetch(`${running.url}${path}`)).json()) as Json;

  beforeAll(async () => {
    db = await freshDatabase();
    running = await startService(startOptions({ service: serviceConfig(), databaseUrl: db.url }));
    runner = new DemoRunner(
      { service: running.service, bus: running.bus, subjectPrefix: DEFAULT_START.subjectPrefix },
      { ...DEFAULT_DESK, seed: 11, ratePerSec: 200, reportEveryMs: 1_000, firstBreakMs: 2_500, breakEveryMs: 2_000, transferEveryMs: 2_000, otcEveryMs: 1_500, fundingEveryMs: 2_000 },
      { ...DEFAULT_RUNNER, durationMs: 30_000 },
    );
    loop = runner.start();
  });
  afterAll(async () => {
    await runner.stop();
    await running.stop();
    await db.drop();
  });

  it('opens an injected break with a suggested cause within seconds', async () => {
    let open: Json[] = [];
    await waitUntil(
      async () => {
        open = ((await get('/breaks')).items as Json[]).filter((b) => ((b.explanation as { suggestions: unknown[] }).suggestions.length > 0));
        return open.length > 0;
      },
      12_000,
      'an open break with a suggestion',
    );
    const injected = runner.desk.injections;
    expect(injected.length).toBeGreaterThan(0);
    const b = open[0]!;
    const inj = injected.find((i) => i.venue === b.venue && i.deltas.some((d) => d.asset === b.asset));
    expect(inj, JSON.stringify(b)).toBeDefined();
    const suggestion = (b.explanation as { suggestions: { cause: string; events: string[] }[] }).suggestions[0]!;
    expect(suggestion.events).toContain(inj!.trade);
  });

  it('explains a fee the venue charged in another asset', async () => {
    const causes = async (): Promise<string[]> => ((await get('/breaks?status=all')).items as Json[]).flatMap((b) => (b.explanation as { suggestions: { cause: string }[] }).suggestions.map((s) => s.cause));
    await waitUntil(async () => (await causes()).includes('fee_in_other_asset'), 12_000, 'a fee_in_other_asset break');
    expect(runner.desk.injections.map((i) => i.kind)).toContain('fee_in_other_asset');
  });

  it('books every venue, spot and perpetuals with PnL, and rejects nothing', async () => {
    await runner.stop();
    await loop;
    await waitUntil(async () => (await running.service.pending()) === 0, 10_000, 'the bus to drain');
    await waitUntil(async () => Number((await get('/state')).seq) >= 1 && (await running.service.pending()) === 0, 5_000, 'booking');
    const positions = (await get('/positions')).positions as Json[];
    const venues = new Set(positions.flatMap((p) => Object.keys(p.byVenue as Json)));
    for (const v of [...VENUES, 'cumberland']) expect(venues, v).toContain(v);
    expect(positions.some((p) => p.kind === 'perpetual')).toBe(true);
    expect(positions.some((p) => p.kind === 'spot' && p.book === 'otc')).toBe(true);
    expect(positions.filter((p) => p.kind === 'spot').every((p) => p.totalPnl !== null && p.unrealizedPnl !== null)).toBe(true);
    expect(positions.some((p) => p.realizedPnl !== '0')).toBe(true);
    expect(positions.some((p) => p.funding !== '0')).toBe(true);
    const books = (await get('/books')).books as Json[];
    expect(books.map((b) => b.book).sort()).toEqual(['mm', 'otc']);
    expect((await get('/rejected')).items).toEqual([]);
    expect((await get('/unbooked')).items).toEqual([]);
    // Breaks only where a report was made to disagree.
    const cells = new Set(runner.desk.injections.flatMap((i) => i.deltas.map((d) => `${i.venue}/${d.asset}`)));
    const all = (await get('/breaks?status=all')).items as Json[];
    for (const b of all) expect(cells, JSON.stringify(b)).toContain(`${String(b.venue)}/${String(b.asset)}`);
  });
});
