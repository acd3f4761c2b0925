/**
 * Input formats as a user meets them: a pretty-printed single ccxt object (what fetchBalance
 * returns) is one JSON document; a JSON Lines file whose first line is corrupt is still JSON Lines
 * (the corrupt line is rejected, the rest books); several files book into one ledger.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'utl-formats-'));

interface Out {
  counts: { events: number };
  rejected: { file: string; line: number | null; code: string }[];
  venueBalances: { asset: string; total: string }[];
  positions: { book: string; asset: string; qty: string }[];
}

function replay(args: string[]): { status: number | null; out: Out } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'utl.js'), 'replay', ...args, '--json'], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, out: JSON.parse(r.stdout) as Out };
}

describe('input formats', () => {
  it('a pretty-printed ccxt balance object books as venue balances', () => {
    const balances = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/ccxt/okx.fetchBalance.json'), 'utf8')) as unknown[];
    const file = join(dir, 'balance.json');
    writeFileSync(file, JSON.stringify(balances[2], null, 2));
    const { status, out } = replay([file, '--venue', 'okx', '--book', 'b1', '--as-of', '2026-01-01T01:00:00+01:00']);
    expect(status).toBe(0);
    expect(out.venueBalances.length).toBeGreaterThan(5);
    expect(out.venueBalances.find((b) => b.asset === 'BTC')?.total).toBeDefined();
  });

  it('a JSON Lines file with a corrupt first line rejects that line and books the rest', () => {
    const file = join(dir, 'corrupt.jsonl');
    writeFileSync(
      file,
      [
        '{"type":"trade","id":"t1",',
        '{"type":"trade","id":"t2","ts":"2026-01-02T10:00:00Z","book":"b1","venue":"x","instrument":"BTC/USD","side":"buy","qty":"1","price":"100"}',
      ].join('\n'),
    );
    const { status, out } = replay([file]);
    expect(status).toBe(3);
    expect(out.rejected.map((r) => [r.line, r.code])).toEqual([[1, 'JSON_SYNTAX']]);
    expect(out.positions.map((p) => [p.asset, p.qty])).toEqual([['BTC', '1']]);
  });

  it('several files book into one ledger, in the order given, and rejections name their file', () => {
    const terms = join(dir, 'terms.jsonl');
    writeFileSync(terms, '{"type":"instrument","symbol":"BTC/USDT:USDT","venue":"binance","multiplier":"1"}\n{"type":"price","ts":"2020-01-01T00:00:00Z","asset":"USDT","quote":"USD","price":"1"}\nnot json\n');
    const trades = join(ROOT, 'test/fixtures/ccxt/binance.fetchMyTrades.json');
    const { status, out } = replay([terms, trades, '--venue', 'binance', '--book', 'b1']);
    expect(status).toBe(3);
    expect(out.rejected.map((r) => [r.file, r.line, r.code])).toEqual([[terms, 3, 'JSON_SYNTAX']]);
    expect(out.positions.map((p) => p.asset).sort()).toEqual(['BTC/USDT:USDT', 'LTC', 'USDT']);
  });
});

describe('per-book settings (--books)', () => {
  it('a book booked with its own method changes its realized PnL only', () => {
    const file = join(dir, 'books.json');
    writeFileSync(file, '{"books":{"mm":{"method":"lifo"}}}');
    const base = spawnSync(process.execPath, [join(ROOT, 'bin', 'utl.js'), 'replay', 'examples/desk.jsonl', '--json'], { cwd: ROOT, encoding: 'utf8' });
    const lifo = spawnSync(process.execPath, [join(ROOT, 'bin', 'utl.js'), 'replay', 'examples/desk.jsonl', '--json', '--books', file], { cwd: ROOT, encoding: 'utf8' });
    type Books = { books: { book: string; method: string; realizedPnl: string; totalPnl: string }[] };
    const a = (JSON.parse(base.stdout) as Books).books;
    const b = (JSON.parse(lifo.stdout) as Books).books;
    expect(b.map((x) => [x.book, x.method])).toEqual([['mm', 'lifo'], ['otc', 'fifo']]);
    expect(b.find((x) => x.book === 'otc')).toEqual(a.find((x) => x.book === 'otc'));
    expect(b.find((x) => x.book === 'mm')!.realizedPnl).not.toBe(a.find((x) => x.book === 'mm')!.realizedPnl);
    expect(b.find((x) => x.book === 'mm')!.totalPnl).toBe(a.find((x) => x.book === 'mm')!.totalPnl);
  });

  it('an invalid settings file is a usage error listing every problem', () => {
    const file = join(dir, 'bad-books.json');
    writeFileSync(file, '{"books":{"mm":{"method":"avg","fees":"none"}}}');
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'utl.js'), 'replay', 'examples/desk.jsonl', '--books', file], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('books.mm.method: expected one of fifo, lifo, hifo, wac, got "avg"');
    expect(r.stderr).toContain('books.mm.fees: expected one of separate, capitalise, got "none"');
  });
});
