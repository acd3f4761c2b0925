/**
 * The fused trade decoder never disagrees with the general boundary: on any line it declines, or
 * returns exactly the event `validateEvent(JSON.parse(line))` accepts — in any sequence of lines,
 * whatever its memos hold (cold, warmed by similar lines, or by lines one character away).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Dec } from './decimal.js';
import { InstrumentRegistry } from './instrument.js';
import { decodeTradeLine, forgetTradeLineMemos, tradeLinePlaceMisses } from './tradeline.js';
import { validateEvent } from './validate.js';

const registry = new InstrumentRegistry();
registry.register('BTC/USDT:USDT', 'binance', Dec.ONE);

const text = (good: string[]) => fc.oneof(fc.constantFrom(...good), fc.string({ maxLength: 6 }), fc.constantFrom('', ' x', 'a"b', 'a\\b', '\u0001', '1e5', '-1', '0', 'NaN'));
const tradeArb = fc.record(
  {
    type: fc.constantFrom('trade', 'trade', 'price'),
    id: text(['t1', 'binance:123', 'x'.repeat(300)]),
    ts: text(['2026-01-02T10:00:00Z', '2026-01-02T10:00:00.123Z', '2026-02-30T00:00:00Z', '2026-01-02T10:00:00+01:00', '2026-01-02T10:00:00.1234567Z']),
    book: text(['b1', 'desk/mm']),
    venue: text(['binance', 'okx']),
    account: text(['main', 'sub-1']),
    instrument: text(['BTC/USDT', 'ETH/BTC', 'BTC/USDT:USDT', 'BTCUSDT', 'BTC/USD:ETH']),
    side: text(['buy', 'sell', 'hold']),
    qty: text(['1.5', '0.001', '0', '-2', '1.5000']),
    price: text(['42000.10', '1', '0.00000001']),
    fee: fc.oneof(
      fc.record({ asset: text(['USDT', 'BNB', 'bad asset']), amount: text(['1.25', '-0.5', '0']) }),
      fc.record({ asset: text(['USDT']), amount: text(['1']), type: fc.constant('x') }),
    ),
  },
  { requiredKeys: ['type', 'id'] },
);

describe('decodeTradeLine', () => {
  it('decodes a canonical trade line as the general path does', () => {
    const line = '{"type":"trade","id":"t1","ts":"2026-01-02T10:00:00Z","book":"b1","venue":"binance","account":"main","instrument":"BTC/USDT","side":"buy","qty":"1.5","price":"42000.10","fee":{"asset":"USDT","amount":"1.25"}}';
    const fast = decodeTradeLine(line, registry);
    expect(fast).toBeDefined();
    const slow = validateEvent(JSON.parse(line), registry);
    expect(slow.ok && slow.event).toStrictEqual(fast);
  });

  it('declines, or agrees with validateEvent(JSON.parse(line)), on any line', () => {
    fc.assert(
      fc.property(tradeArb, fc.constantFrom(0, 0, 0, 1), (wire, spaced) => {
        const line = spaced === 1 ? JSON.stringify(wire, null, 1).replace(/\n/g, '') : JSON.stringify(wire);
        const fast = decodeTradeLine(line, registry);
        if (fast === undefined) return;
        const slow = validateEvent(JSON.parse(line), registry);
        expect(slow.ok).toBe(true);
        if (slow.ok) expect(fast).toStrictEqual(slow.event);
      }),
      { numRuns: 5000 },
    );
  });

  it('takes the fast path for every valid canonical line (it is not a path that always declines)', () => {
    const validArb = fc.record(
      {
        type: fc.constant('trade'),
        id: fc.constantFrom('t1', 'binance:123'),
        ts: fc.constantFrom('2026-01-02T10:00:00Z', '2026-01-02T10:00:00.123Z'),
        book: fc.constantFrom('b1', 'desk/mm'),
        venue: fc.constantFrom('binance', 'okx'),
        account: fc.constantFrom('main', 'sub-1'),
        instrument: fc.constantFrom('BTC/USDT', 'ETH/BTC'),
        side: fc.constantFrom('buy', 'sell'),
        qty: fc.constantFrom('1.5', '0.001'),
        price: fc.constantFrom('42000.10', '1'),
        fee: fc.record({ asset: fc.constantFrom('USDT', 'BNB'), amount: fc.constantFrom('1.25', '-0.5', '0') }),
      },
      { requiredKeys: ['type', 'id', 'ts', 'book', 'venue', 'instrument', 'side', 'qty', 'price'] },
    );
    fc.assert(
      fc.property(validArb, (wire) => {
        const line = JSON.stringify(wire);
        const slow = validateEvent(JSON.parse(line), registry);
        expect(slow.ok).toBe(true);
        expect(decodeTradeLine(line, registry)).toStrictEqual(slow.ok ? slow.event : undefined);
      }),
      { numRuns: 500 },
    );
  });
});

/** What the general path makes of a line: the event, or undefined when it rejects it. */
function general(line: string, reg: InstrumentRegistry): unknown {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const v = validateEvent(value, reg);
  return v.ok ? v.event : undefined;
}

/** Canonical trade lines, mostly valid, with the variety a real log has. */
const canonicalArb = fc.record(
  {
    type: fc.constant('trade'),
    id: fc.constantFrom('t1', 'f123456', 'binance:987654321', ' t2', 't3 ', 'é1', 'x'.repeat(256), 'x'.repeat(257), 'a"b', 'a\\b', '\u0001', ''),
    ts: fc.constantFrom('2026-01-02T10:00:00Z', '2026-01-02T10:00:00.123Z', '2026-01-02T10:00:00.123456Z', '2026-01-02T10:00:01.5Z', '2026-01-02T10:00:00.123456000Z', '2026-01-02T10:00:00.1234567Z', '2026-01-02T10:00:00+01:00', '2026-01-02T10:00:00.', '2026-01-03T00:00:00.000Z', '2026-02-30T00:00:00Z'),
    book: fc.constantFrom('b1', 'b2', 'desk/mm', 'bad book', ''),
    venue: fc.constantFrom('binance', 'okx', 'coinbase', 'bad venue'),
    account: fc.constantFrom('main', 'sub-1', 'bad account'),
    instrument: fc.constantFrom('BTC/USDT', 'ETH/BTC', 'A49/USDT', 'A47/USDT', 'BTC/USDT:USDT', 'ETH/USDT:USDT', 'BTCUSDT', 'BTC/BTC'),
    side: fc.constantFrom('buy', 'sell', 'sell', 'buy', 'hold'),
    qty: fc.constantFrom('1.5', '0.001', '535.138', '1.50', '0', '-1', '123456789012345', '1234567890123456', '0.0000000000000001', '1e5', '.5'),
    price: fc.constantFrom('42000.10', '1', '22.50666', '0.00000001', '99999999999999.99', '0'),
    fee: fc.record({ asset: fc.constantFrom('USDT', 'USD', 'BNB', 'bad asset'), amount: fc.constantFrom('1.25', '-0.5', '0', '-0', '7.58204', 'x') }),
  },
  { requiredKeys: ['type', 'id', 'ts', 'book', 'venue', 'instrument', 'side', 'qty', 'price'] },
);

const mutationArb = fc.record({
  at: fc.nat(400),
  kind: fc.constantFrom('replace', 'insert', 'delete'),
  ch: fc.constantFrom('"', '\\', ',', ':', '{', '}', ' ', '0', '9', '.', '-', 'a', 'Z', 'T', '/', '\u0001', 'é'),
});

function mutate(line: string, m: { at: number; kind: string; ch: string }): string {
  const i = m.at % (line.length + 1);
  if (m.kind === 'insert') return line.slice(0, i) + m.ch + line.slice(i);
  if (m.kind === 'delete') return line.slice(0, i) + line.slice(i + 1);
  return line.slice(0, i) + m.ch + line.slice(i + 1);
}

describe('decodeTradeLine with its memos', () => {
  const withTerms = new InstrumentRegistry();
  withTerms.register('BTC/USDT:USDT', 'binance', Dec.ONE);
  const without = new InstrumentRegistry();

  it('agrees with the general path over sequences of lines, each followed by corrupted copies of it', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(canonicalArb, fc.array(mutationArb, { maxLength: 3 }), fc.boolean()), { minLength: 1, maxLength: 12 }), fc.boolean(), (steps, cold) => {
        if (cold) forgetTradeLineMemos();
        for (const [wire, mutations, terms] of steps) {
          const reg = terms ? withTerms : without;
          const line = JSON.stringify(wire);
          const lines = [line, ...mutations.map((m) => mutate(line, m)), line];
          for (const l of lines) {
            const fast = decodeTradeLine(l, reg);
            if (fast !== undefined) expect(fast).toStrictEqual(general(l, reg));
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('decodes every valid canonical line, memos cold or warm, and gives what the general path gives', () => {
    const valid = fc.record(
      {
        type: fc.constant('trade'),
        id: fc.constantFrom('t1', 'binance:123', 'é1'),
        ts: fc.constantFrom('2026-01-02T10:00:00Z', '2026-01-02T10:00:00.123Z', '2026-01-02T10:00:00.000001Z', '2026-01-02T10:00:00.9Z'),
        book: fc.constantFrom('b1', 'desk/mm'),
        venue: fc.constantFrom('binance', 'okx'),
        account: fc.constantFrom('main', 'sub-1'),
        instrument: fc.constantFrom('BTC/USDT', 'ETH/BTC', 'BTC/USDT:USDT'),
        side: fc.constantFrom('buy', 'sell'),
        qty: fc.constantFrom('1.5', '0.001', '1.50', '1234567890123456789'),
        price: fc.constantFrom('42000.10', '1'),
        fee: fc.record({ asset: fc.constantFrom('USDT', 'BNB'), amount: fc.constantFrom('1.25', '-0.5', '0') }),
      },
      { requiredKeys: ['type', 'id', 'ts', 'book', 'venue', 'instrument', 'side', 'qty', 'price'] },
    );
    fc.assert(
      fc.property(fc.array(valid, { minLength: 1, maxLength: 10 }), fc.boolean(), (wires, cold) => {
        if (cold) forgetTradeLineMemos();
        for (const wire of wires) {
          const line = JSON.stringify(wire);
          // binance has the perpetual's terms in withTerms; okx has none anywhere.
          const derivativeKnown = wire.instrument !== 'BTC/USDT:USDT' || wire.venue === 'binance';
          const want = general(line, withTerms);
          expect(want !== undefined).toBe(derivativeKnown);
          expect(decodeTradeLine(line, withTerms)).toStrictEqual(want);
          // A derivative's validity is never remembered: without its terms it is declined.
          if (wire.instrument === 'BTC/USDT:USDT') expect(decodeTradeLine(line, without)).toBeUndefined();
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('gives the remembered strings for a place and a second read before', () => {
    forgetTradeLineMemos();
    const line = '{"type":"trade","id":"t1","ts":"2026-01-02T10:00:00.5Z","book":"a-book-with-a-long-name","venue":"binance","account":"main","instrument":"BTC/USDT","side":"buy","qty":"1","price":"2","fee":{"asset":"USDT","amount":"0.1"}}';
    const a = decodeTradeLine(line, registry);
    const b = decodeTradeLine(line.replace('"t1"', '"t2"'), registry);
    expect(a?.book).toBe('a-book-with-a-long-name');
    // The second line's book is the remembered string, not a new slice of that line.
    expect(b?.book).toBe(a?.book);
    expect(b?.ts).toBe(a?.ts);
  });

  it('finds a place again whatever follows it, with or without an account, among many symbols that differ in one digit', () => {
    forgetTradeLineMemos();
    const line = (n: number, sym: number, account: boolean): string =>
      `{"type":"trade","id":"f-${n}","ts":"2026-01-02T10:00:0${n % 10}Z","book":"b1","venue":"okx",${account ? '"account":"main",' : ''}"instrument":"A${String(sym).padStart(4, '0')}/USDT","side":"${n % 2 === 0 ? 'buy' : 'sell'}","qty":"0.${n + 1}","price":"${100 + n}.5","fee":{"asset":"USDT","amount":"0.01"}}`;
    for (const account of [false, true]) {
      const before = tradeLinePlaceMisses();
      // 2,000 places (1,000 symbols, 2 sides), each seen 4 times with other ids, times and prices.
      for (let round = 0; round < 4; round++) for (let sym = 0; sym < 1000; sym++) for (const n of [round * 2, round * 2 + 1]) expect(decodeTradeLine(line(n, sym, account), registry)).toBeDefined();
      expect(tradeLinePlaceMisses() - before).toBe(2000);
    }
  });
});
