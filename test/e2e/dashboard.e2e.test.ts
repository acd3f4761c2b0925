/**
 * The dashboard end to end: the service on a fresh PostgreSQL (auth off), the example desk and the
 * reconciliation log posted, the page opened in headless Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core). The grid shows the rows GET /positions gives, formatted; a break is
 * listed with its suggested cause; one more fill updates the grid without a reload; a screenshot
 * shows real data (saved to test/out/dashboard.png for people to look at).
 *
 * No timing is asserted here (timed tests are benchmarks: bench/dashboard.ts measures scripting
 * with 1,000 rows updating). CI installs chromium (.ci/run ensure_chromium): this test is never
 * skipped.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type Running } from '../../src/app/start.js';
import { freshDatabase } from '../support/pg.js';
import { serviceConfig, startOptions, waitUntil } from '../support/service.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const OUT = join(ROOT, 'test', 'out');

interface Position { book: string; asset: string; qty: string; value: string | null; venue?: string }

describe('dashboard (headless Chromium)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let running: Running;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  const post = async (file: string): Promise<void> => {
    const r = await fetch(`${running.url}/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: readFileSync(join(ROOT, file)) });
    expect(r.status).toBe(200);
  };
  const get = async <T>(path: string): Promise<T> => (await (await fetch(`${running.url}${path}`)).json()) as T;
  const btc = async (): Promise<Position> => (await get<{ positions: Position[] }>('/positions?book=mm&asset=BTC')).positions[0]!;
  const fmtQty = (q: string): Promise<string> => page.evaluate(`import('/ui/app.js').then((m) => m.fmtQty(${JSON.stringify(q)}))`);
  const cell = (key: string, col: number): Promise<string> => page.locator(`#positions tr[data-key="${key}"] td:nth-child(${col})`).innerText();

  beforeAll(async () => {
    db = await freshDatabase();
    running = await startService(startOptions({ service: serviceConfig(), databaseUrl: db.url, auth: 'off' }));
    await post('examples/desk.jsonl');
    await post('examples/recon/log.jsonl');
    await waitUntil(async () => (await get<{ total: number }>('/breaks')).total > 0, 10_000, 'a break');
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (err) => errors.push(String(err)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${running.url}/`);
  });
  afterAll(async () => {
    await browser?.close();
    await running?.stop();
    await db?.drop();
  });

  it('formats decimals as text: separators, rounding half away from zero, no -0, unpriced', async () => {
    // A string expression: the bundler would rewrite an import() inside a function it sees.
    const out = await page.evaluate(`import('/ui/app.js').then((m) => [
      m.fmtMoney('1234567.995'), m.fmtMoney('-0.004'), m.fmtMoney('-999.995'), m.fmtMoney(null), m.fmtQty('0.84990000'),
      m.fmtMoney('12345678901234567890.125'), m.sumDec(['0.1', '0.2', '-0.3']), m.sumDec(['1.5', '-2.25']), m.signClass('-0.001'), m.signClass('-5'),
    ])`);
    expect(out).toEqual(['1,234,568.00', '0.00', '-1,000.00', 'unpriced', '0.8499', '12,345,678,901,234,567,890.13', '0.0', '-0.75', '', 'loss']);
  });

  it('shows the positions GET /positions gives, formatted, and a break with its cause', async () => {
    const pos = await btc();
    const key = 'mm|BTC|';
    await page.locator(`#positions tr[data-key="${key}"]`).waitFor();
    expect(await cell(key, 4)).toBe(await fmtQty(pos.qty));
    expect(await cell(key, 7)).toMatch(/^\d{1,3}(,\d{3})+\.\d{2}$/);
    const rows = await page.locator('#positions tbody tr[data-key]').count();
    expect(rows).toBe((await get<{ positions: unknown[] }>('/positions')).positions.length);
    // Right-aligned numbers.
    expect(await page.evaluate(`getComputedStyle(document.querySelector('#positions tr[data-key="${key}"] td:nth-child(4)')).textAlign`)).toBe('right');

    const breaks = await get<{ items: { explanation: { suggestions: { cause: string }[] } }[] }>('/breaks');
    const cause = breaks.items.find((b) => b.explanation.suggestions.length > 0)!.explanation.suggestions[0]!.cause;
    await page.locator('#breaks td.cause', { hasText: cause }).first().waitFor();
    expect(await page.locator('#breaks tbody tr').count()).toBe(breaks.items.length);
    await page.locator('#pnl tbody tr', { hasText: 'mm' }).first().waitFor();
    // Today, MTD and YTD beside each book's total: from GET /pnl, moved by the live updates.
    const periods = (await get<{ books: { book: string; periods: Record<string, { total: string | null }> }[] }>('/pnl')).books.find((b) => b.book === 'mm')!.periods;
    const shownYtd = await page.evaluate(`import('/ui/app.js').then((m) => m.fmtMoney(${JSON.stringify(periods.ytd!.total)}))`);
    await page.waitForFunction(`[...document.querySelectorAll('#pnl tbody tr')].some((tr) => tr.cells[0].textContent === 'mm' && tr.cells[8].textContent === ${JSON.stringify(shownYtd)})`);
    await page.locator('#exp-asset svg rect').first().waitFor();
    await page.locator('#events tbody tr').first().waitFor();
  });

  it('updates the grid live from the WebSocket when a fill is booked, without a reload', async () => {
    // In-page code as strings: this project's TypeScript has no DOM types.
    await page.evaluate('window.stayed = true');
    const rowsOf = (): Promise<string[]> => page.evaluate<string[]>(`[...document.querySelectorAll('#positions tr[data-key]')].map((r) => r.dataset.key)`);
    const rowsBefore = await rowsOf();
    const before = (await btc()).qty;
    const fill = { type: 'trade', id: 'dash-1', ts: '2026-03-02T12:00:00Z', book: 'mm', venue: 'binance', instrument: 'BTC/USDT', side: 'buy', qty: '0.25', price: '60000' };
    const r = await fetch(`${running.url}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([fill]) });
    expect(r.status).toBe(200);
    const after = (await btc()).qty;
    expect(after).not.toBe(before);
    const shown = await fmtQty(after);
    await page.waitForFunction(`document.querySelector('#positions tr[data-key="mm|BTC|"] td:nth-child(4)')?.textContent === ${JSON.stringify(shown)}`);
    expect(await page.evaluate('window.stayed')).toBe(true);
    // The delta carried the changed positions only: the others are still there.
    expect(rowsBefore.length).toBeGreaterThan(1);
    expect(await rowsOf()).toEqual(rowsBefore);
  });

  it('a row click shows the position detail; the screenshot shows real data', async () => {
    await page.locator('#positions tr[data-key="mm|BTC|"]').click();
    await page.locator('#detail table').first().waitFor();
    expect(await page.locator('#detail-title').innerText()).toContain('mm · BTC');
    // Spot: its open lots, from GET /positions?lots=1.
    await page.locator('#detail th', { hasText: 'lot acquired' }).waitFor();
    // The chart has points once a few updates came in.
    await page.waitForFunction(`(document.querySelector('#chart-last')?.textContent ?? '') !== ''`);
    const png = await page.screenshot({ fullPage: true });
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, 'dashboard.png'), png);
    expect(png.length).toBeGreaterThan(20 * 1024);
    // Not one colour: decode it in the page and count distinct colours on a sparse grid.
    const colours = await page.evaluate<number>(`(async () => {
      const img = new Image();
      img.src = 'data:image/png;base64,${png.toString('base64')}';
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      const px = g.getImageData(0, 0, img.width, img.height).data;
      const seen = new Set();
      for (let y = 0; y < img.height; y += 7) for (let x = 0; x < img.width; x += 7) {
        const i = (y * img.width + x) * 4;
        seen.add(px[i] + ',' + px[i + 1] + ',' + px[i + 2]);
      }
      return seen.size;
    })()`);
    expect(colours).toBeGreaterThan(20);
    expect(errors).toEqual([]);
  });
});
