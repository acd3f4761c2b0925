/**
 * The fused trade decoder never disagrees with the general boundary: on any line it declines, or
 * returns exactly the event `validateEvent(JSON.parse(line))` accepts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Dec } from './decimal.js';
import { InstrumentRegistry } from './instrument.js';
import { decodeTradeLine } from './tradeline.js';
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
