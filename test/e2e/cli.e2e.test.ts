/**
 * The built CLI end to end: `node bin/utl.js replay ...` as a child process (run after
 * `npm run build`, so dist/ exists), on the example desk log, on shuffled and broken copies of it,
 * on ccxt output, and on bad usage.
 */
import { mulberry32 } from '../../bench/generate.js';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dec } from '../../src/domain/decimal.js';
import { ALL_CODES } from '../../src/domain/errors.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = join(ROOT, 'examples', 'desk.jsonl');
const CCXT_TRADES = join(ROOT, 'test', 'fixtures', 'ccxt', 'binance.fetchMyTrades.json');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function utl(...args: string[]): Run {
  const r = spawnSync(process.execPath, ['bin/utl.js', 'replay', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.error !== undefined) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Position {
  book: string;
  asset: string;
  kind: string;
  venue?: string;
  qty: string;
  mark: string | null;
  realizedPnl: string;
  unrealizedPnl: string | null;
  totalPnl: string | null;
  byVenue: Record<string, string>;
  [k: string]: unknown;
}

interface Rejected {
  line: number | null;
  id: string | null;
  code: string;
  message: string;
  stage: string;
}

interface Output {
  positions: Position[];
  exposure: unknown;
  books: { book: string; [k: string]: unknown }[];
  balances: { book: string; venue: string; account: string; asset: string; qty: string }[];
  rejected: Rejected[];
  counts: { lines: number; events: number; duplicates: number; rejected: number; rebooked: boolean };
  asOf: string | null;
  digest: string;
}

function json(...args: string[]): { run: Run; out: Output } {
  const run = utl(...args, '--json');
  let out: Output;
  try {
    out = JSON.parse(run.stdout) as Output;
  } catch (e) {
    throw new Error(`stdout is not JSON (exit ${run.status}): ${(e as Error).message}\n${run.stdout}\n${run.stderr}`);
  }
  return { run, out };
}

function key(p: Position): string {
  return `${p.book}|${p.asset}|${p.venue ?? ''}`;
}

function find(out: Output, book: string, asset: string): Position {
  const p = out.positions.find((x) => x.book === book && x.asset === asset);
  if (p === undefined) throw new Error(`no position ${book}/${asset} in ${out.positions.map(key).join(', ')}`);
  return p;
}

/** Every string leaf under a decimal-valued key, with its path. */
const DECIMAL_KEYS = new Set([
  'qty',
  'costBasis',
  'avgPrice',
  'mark',
  'value',
  'realizedPnl',
  'unrealizedPnl',
  'fees',
  'funding',
  'totalPnl',
  'feesPaid',
  'net',
  'gross',
  'held',
  'cost',
]);
const NULLABLE = new Set(['avgPrice', 'mark', 'value', 'unrealizedPnl', 'totalPnl']);

function decimals(v: unknown, path: string, out: [string, unknown][]): void {
  if (Array.isArray(v)) v.forEach((x, i) => decimals(x, `${path}[${i}]`, out));
  else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const p = `${path}.${k}`;
      if (k === 'byVenue' && !Array.isArray(x)) for (const [venue, q] of Object.entries(x as Record<string, unknown>)) out.push([`${p}.${venue}`, q]);
      else if (DECIMAL_KEYS.has(k) && (k !== 'fees' || typeof x !== 'string' || /\d/.test(x))) out.push([p, x]);
      else decimals(x, p, out);
    }
  }
}

const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const next = mulberry32(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const exampleLines = readFileSync(EXAMPLE, 'utf8').split('\n').filter((l) => l.trim() !== '');
const badLine = exampleLines.findIndex((l) => l.includes('"bad-1"')) + 1;

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'utl-e2e-'));
});
afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('utl replay examples/desk.jsonl', () => {
  let base: { run: Run; out: Output };
  beforeAll(() => {
    base = json(EXAMPLE);
  });

  it('the table output exits 3 (one invalid line on purpose) and shows positions, the rejection and the digest', () => {
    const r = utl(EXAMPLE);
    expect(r.status).toBe(3);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('Positions (USD)');
    expect(r.stdout).toMatch(/^mm\s+BTC\s+binance,kraken\s+0\.8499\s/m);
    expect(r.stdout).toMatch(/^otc\s+ETH\/USDT:USDT\s+okx\s+-250\s/m);
    expect(r.stdout).toContain('Books (USD)');
    expect(r.stdout).toContain('Rejected (1):');
    expect(r.stdout).toContain(`line ${badLine} UNKNOWN_SIDE: trade bad-1: side: expected "buy" or "sell", got "hold"`);
    const digest = /^digest ([0-9a-f]{64})$/m.exec(r.stdout);
    expect(digest?.[1]).toBe(base.out.digest);
    expect(r.stdout).toMatch(/^UTL replay: \d+ events, 1 rejected, 1 duplicates$/m);
  });

  it('--json prints exactly the documented top-level keys and exits 3', () => {
    expect(base.run.status).toBe(3);
    expect(base.run.stdout.endsWith('}\n')).toBe(true);
    expect(Object.keys(base.out)).toEqual(['positions', 'exposure', 'books', 'balances', 'venueBalances', 'rejected', 'counts', 'asOf', 'digest']);
    expect(base.out.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(base.out.asOf).toBeNull();
    expect(base.out.books.map((b) => b.book)).toEqual(['mm', 'otc']);
    expect(base.out.counts).toEqual({ lines: exampleLines.length, events: exampleLines.length - 1, duplicates: 1, rejected: 1, rebooked: true });
  });

  it('positions are sorted by book, then asset', () => {
    const ps = base.out.positions;
    expect(ps.length).toBeGreaterThanOrEqual(8);
    for (let i = 1; i < ps.length; i++) {
      const a = ps[i - 1]!;
      const b = ps[i]!;
      expect(a.book < b.book || (a.book === b.book && a.asset <= b.asset), `${key(a)} before ${key(b)}`).toBe(true);
    }
    expect(new Set(ps.map(key)).size).toBe(ps.length);
  });

  it('every decimal field is a decimal string (null only where unpriced is allowed)', () => {
    const found: [string, unknown][] = [];
    decimals({ positions: base.out.positions, books: base.out.books, exposure: base.out.exposure, balances: base.out.balances }, '$', found);
    expect(found.length).toBeGreaterThan(150);
    for (const [path, v] of found) {
      const field = path.slice(path.lastIndexOf('.') + 1);
      if (v === null) expect(NULLABLE.has(field), `${path} is null`).toBe(true);
      else expect(typeof v === 'string' && DECIMAL_TEXT.test(v), `${path} = ${JSON.stringify(v)}`).toBe(true);
    }
    // And canonical: no trailing fractional zeros, no "-0".
    for (const [path, v] of found) if (typeof v === 'string') expect(v, path).toMatch(/^(0|-?[1-9]\d*(\.\d*[1-9])?|-?0\.\d*[1-9])$/);
  });

  it('the rejected entry has line, id, code and message', () => {
    expect(base.out.rejected).toHaveLength(1);
    const x = base.out.rejected[0]!;
    expect(x).toMatchObject({ line: badLine, id: 'bad-1', code: 'UNKNOWN_SIDE', stage: 'validation' });
    expect(x.message).toContain('trade bad-1: side: expected "buy" or "sell", got "hold"');
    expect(x.message).toContain('qty: expected a plain decimal string without an exponent, got "1e3"');
    for (const r of base.out.rejected) {
      expect(r.line === null || Number.isInteger(r.line)).toBe(true);
      expect(r.id === null || typeof r.id === 'string').toBe(true);
      expect(Object.keys(ALL_CODES)).toContain(r.code);
      expect(r.message.length).toBeGreaterThan(0);
    }
  });

  it('running twice gives byte-identical output and the same digest', () => {
    const again = utl(EXAMPLE, '--json');
    expect(again.stdout).toBe(base.run.stdout);
    expect(utl(EXAMPLE).stdout).toBe(utl(EXAMPLE).stdout);
  });

  it('--method lifo/hifo/wac change realized PnL but not the quantity or the total (realized + unrealized) of any position', () => {
    const fifo = new Map(base.out.positions.map((p) => [key(p), p]));
    let differs = 0;
    for (const method of ['lifo', 'hifo', 'wac']) {
      const { run, out } = json(EXAMPLE, '--method', method);
      expect(run.status).toBe(3);
      expect(out.positions.map(key)).toEqual([...fifo.keys()]);
      for (const p of out.positions) {
        const f = fifo.get(key(p))!;
        expect(p.qty, `${method} ${key(p)} qty`).toBe(f.qty);
        if (p.mark !== null && p.unrealizedPnl !== null && f.unrealizedPnl !== null) {
          const total = Dec.of(p.realizedPnl).add(Dec.of(p.unrealizedPnl));
          const fTotal = Dec.of(f.realizedPnl).add(Dec.of(f.unrealizedPnl));
          expect(total.toString(), `${method} ${key(p)} realized+unrealized`).toBe(fTotal.toString());
          expect(p.totalPnl, `${method} ${key(p)} totalPnl`).toBe(f.totalPnl);
        }
        if (p.realizedPnl !== f.realizedPnl) differs++;
      }
      expect(out.digest).not.toBe(base.out.digest);
    }
    // mm BTC: bought 1.5 @ 42000.10 and 0.75 @ 41950, sold 1 @ 42210.55 — lifo sells the cheaper lot.
    expect(find(json(EXAMPLE, '--method', 'lifo').out, 'mm', 'BTC').realizedPnl).not.toBe(find(base.out, 'mm', 'BTC').realizedPnl);
    expect(differs).toBeGreaterThan(0);
  });

  it('--at 2026-01-02T10:06:00Z gives the state as of then', () => {
    const { run, out } = json(EXAMPLE, '--at', '2026-01-02T10:06:00Z');
    expect(run.status).toBe(3); // bad-1 is invalid whatever the as-of
    expect(out.asOf).toBe('2026-01-02T10:06:00Z');
    // By 10:06 book mm has bought bn-1001 (1.5 BTC at 10:00) and bn-1002 (0.75 BTC at 10:04; its
    // repeat on a later line is a duplicate); the first sale, bn-1003, is at 10:10 and the transfer
    // to kraken at 10:30. So mm holds 1.5 + 0.75 = 2.25 BTC, all at binance, nothing realized.
    const btc = find(out, 'mm', 'BTC');
    expect(btc.qty).toBe('2.25');
    expect(btc.byVenue).toEqual({ binance: '2.25' });
    expect(btc.realizedPnl).toBe('0');
    // Marked at the 09:00 marks (BTC 42000): 2.25 × 42000 − (1.5 × 42000.10 + 0.75 × 41950) × 1.0002 USDT.
    expect(btc.unrealizedPnl).toBe('18.45747');
    // cb-77 (40 ETH at 10:05) is in, the sales at 10:45 and 11:30 are not.
    expect(find(out, 'mm', 'ETH').qty).toBe('40');
    // No derivative has traded yet (the first is at 10:20), and otc holds only its deposits (d4, d5).
    expect(out.positions.filter((p) => p.kind !== 'spot')).toEqual([]);
    expect(out.positions.filter((p) => p.book === 'otc').map((p) => [p.asset, p.qty])).toEqual([['BTC', '2'], ['USDT', '300000']]);
    expect(out.positions.length).toBeLessThan(base.out.positions.length);
    expect(out.digest).not.toBe(base.out.digest);
  });

  it('the lines shuffled (instrument terms first) give the same digest: late events are rebooked', () => {
    const terms = exampleLines.filter((l) => l.includes('"type":"instrument"'));
    const rest = exampleLines.filter((l) => !l.includes('"type":"instrument"'));
    expect(terms).toHaveLength(3);
    for (const seed of [1, 2, 3, 42, 2026]) {
      const lines = [...terms, ...shuffled(rest, seed)];
      expect(lines.join('\n')).not.toBe(exampleLines.join('\n'));
      const path = write(`shuffled-${seed}.jsonl`, `${lines.join('\n')}\n`);
      const { run, out } = json(path);
      expect(run.status, `seed ${seed}`).toBe(3);
      expect(out.rejected.map((r) => [r.id, r.code, r.line])).toEqual([['bad-1', 'UNKNOWN_SIDE', lines.indexOf(exampleLines[badLine - 1]!) + 1]]);
      expect(out.digest, `seed ${seed}`).toBe(base.out.digest);
      expect(JSON.stringify(out.positions), `seed ${seed}`).toBe(JSON.stringify(base.out.positions));
      expect(out.counts.duplicates).toBe(1);
    }
  });
});

describe('utl replay on other inputs', () => {
  const deposit = '{"type":"deposit","id":"d1","ts":"2026-01-02T09:00:00Z","book":"b1","venue":"coinbase","asset":"USD","qty":"100000"}';
  const buy = '{"type":"trade","id":"t1","ts":"2026-01-02T10:00:00Z","book":"b1","venue":"coinbase","instrument":"BTC/USD","side":"buy","qty":"2","price":"40000","fee":{"asset":"USD","amount":"8"}}';
  const sell = '{"type":"trade","id":"t2","ts":"2026-01-02T11:00:00Z","book":"b1","venue":"coinbase","instrument":"BTC/USD","side":"sell","qty":"0.5","price":"41000"}';
  const mark = '{"type":"price","ts":"2026-01-02T12:00:00Z","asset":"BTC","quote":"USD","price":"42000"}';

  it('a file of only valid events exits 0 with nothing rejected', () => {
    const path = write('valid.jsonl', [deposit, buy, sell, mark].join('\n') + '\n');
    const { run, out } = json(path);
    expect(run.status).toBe(0);
    expect(out.rejected).toEqual([]);
    const btc = find(out, 'b1', 'BTC');
    expect(btc.qty).toBe('1.5');
    expect(btc.realizedPnl).toBe('500');
    expect(btc.unrealizedPnl).toBe('3000');
    // USD is the reporting currency: cash, not a position; the balance is 100000 − 80000 − 8 + 20500.
    expect(out.positions.map((p) => p.asset)).toEqual(['BTC']);
    expect(out.balances).toContainEqual({ book: 'b1', venue: 'coinbase', account: 'default', asset: 'USD', qty: '40492' });
    expect(out.counts).toEqual({ lines: 4, events: 4, duplicates: 0, rejected: 0, rebooked: false });
    expect(utl(path).status).toBe(0);
  });

  it('a broken JSON line is JSON_SYNTAX with its line number; the other lines still book', () => {
    const path = write('broken.jsonl', [deposit, buy, '{"type":"trade","id":"t9",', '', sell, mark].join('\n') + '\n');
    const { run, out } = json(path);
    expect(run.status).toBe(3);
    expect(out.rejected).toHaveLength(1);
    const x = out.rejected[0]!;
    expect(x).toMatchObject({ line: 3, id: null, code: 'JSON_SYNTAX', stage: 'validation' });
    expect(x.message).toMatch(/^line 3: /);
    expect(find(out, 'b1', 'BTC').qty).toBe('1.5');
    expect(out.counts.events).toBe(4);
    expect(out.counts.lines).toBe(6);
    const table = utl(path);
    expect(table.status).toBe(3);
    expect(table.stdout).toContain('line 3 JSON_SYNTAX: line 3: ');
  });

  it('CRLF line endings are accepted', () => {
    const path = write('crlf.jsonl', [deposit, buy, sell, mark].join('\r\n') + '\r\n');
    const { run, out } = json(path);
    expect(run.status).toBe(0);
    expect(find(out, 'b1', 'BTC').qty).toBe('1.5');
  });

  it('a missing file exits 2 with a message on stderr and nothing on stdout', () => {
    const r = utl(join(dir, 'no-such-file.jsonl'));
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('cannot read');
    expect(r.stderr).toContain('no-such-file.jsonl');
  });

  it('a directory exits 2', () => {
    expect(utl(dir).status).toBe(2);
  });

  it('a bad option value exits 2: --method foo, --at yesterday, --reporting "U S D"', () => {
    const method = utl(EXAMPLE, '--method', 'foo');
    expect(method.status).toBe(2);
    expect(method.stdout).toBe('');
    expect(method.stderr).toContain('foo');
    expect(method.stderr).toContain('fifo');
    expect(utl(EXAMPLE, '--at', 'yesterday').status).toBe(2);
    expect(utl(EXAMPLE, '--at', '2026-02-30T00:00:00Z').status).toBe(2);
    expect(utl(EXAMPLE, '--reporting', 'U S D').status).toBe(2);
    expect(utl(EXAMPLE, '--no-such-option').status).toBe(2);
    expect(spawnSync(process.execPath, ['bin/utl.js', 'replay'], { cwd: ROOT, encoding: 'utf8' }).status).toBe(2);
  });

  it('ccxt fetchMyTrades: the perpetual without terms is a clear UNKNOWN_INSTRUMENT; the LTC/USDT trades need a USDT value', () => {
    const path = join(dir, 'binance.fetchMyTrades.json');
    copyFileSync(CCXT_TRADES, path);
    const { run, out } = json(path, '--venue', 'binance', '--book', 'b1');
    expect(run.status).toBe(3);
    const perp = out.rejected.find((r) => r.code === 'UNKNOWN_INSTRUMENT');
    expect(perp).toMatchObject({ line: 2, id: 'binance:272536245', stage: 'validation' });
    expect(perp!.message).toContain('BTC/USDT:USDT');
    expect(perp!.message).toContain('no registered terms at binance');
    expect(perp!.message).toContain('"instrument" event');
    // With USD reporting and no USDT mark, selling LTC for USDT cannot be valued: refused, not guessed.
    expect(out.rejected.filter((r) => r.code === 'UNVALUED').map((r) => [r.line, r.id])).toEqual([
      [1, 'binance:309520010'],
      [3, 'binance:320530367'],
    ]);
    expect(out.positions).toEqual([]);
  });

  it('ccxt fetchMyTrades with USDT as cash: the two LTC/USDT sells book into a short LTC position', () => {
    const path = join(dir, 'binance.fetchMyTrades.json');
    copyFileSync(CCXT_TRADES, path);
    const { run, out } = json(path, '--venue', 'binance', '--book', 'b1', '--cash', 'USDT');
    expect(run.status).toBe(3);
    expect(out.rejected.map((r) => [r.line, r.id, r.code])).toEqual([[2, 'binance:272536245', 'UNKNOWN_INSTRUMENT']]);
    const ltc = find(out, 'b1', 'LTC');
    expect(ltc.kind).toBe('spot');
    // Sold 0.2 and 0.173 LTC with nothing bought: short 0.373, proceeds 13.926 + 12.00447 USDT.
    expect(ltc.qty).toBe('-0.373');
    expect(ltc.costBasis).toBe('-25.93047');
    expect(ltc.byVenue).toEqual({ binance: '-0.373' });
    // No LTC mark: unpriced, not zero.
    expect(ltc.mark).toBeNull();
    expect(ltc.unrealizedPnl).toBeNull();
    expect(out.positions.map((p) => p.asset)).toEqual(['LTC']);
    expect(out.counts.lines).toBe(3);
  });
});
