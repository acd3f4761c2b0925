/**
 * The payloads of a batch go to PostgreSQL as one bytea, each followed by 0x1E (store.ts
 * `payloadsParam`), and are split there on that byte: so no JSON text may hold it, and the split
 * must give back every payload exactly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PAYLOAD_END, payloadsParam } from './store.js';

/** What PostgreSQL does with the parameter: UTF-8 text, the last terminator trimmed, split. */
const split = (b: Buffer): string[] => {
  const t = b.toString('utf8');
  return t.length === 0 ? [] : t.slice(0, -1).split(String.fromCharCode(PAYLOAD_END));
};

describe('payloadsParam', () => {
  it('gives back every JSON text exactly, from its string or its bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.jsonValue(), fc.boolean()), { maxLength: 20 }), (items) => {
        const texts = items.map(([v]) => JSON.stringify(v));
        const param = payloadsParam(items.map(([, asBytes], i) => (asBytes ? { payload: texts[i]!, bytes: Buffer.from(texts[i]!, 'utf8') } : { payload: texts[i]! })));
        expect(split(param)).toEqual(texts);
      }),
    );
  });

  it('refuses a payload that holds the terminator (no JSON text can)', () => {
    expect(() => JSON.parse('"a\u001eb"') as unknown).toThrow();
    expect(() => payloadsParam([{ payload: 'a\u001eb' }])).toThrow(/0x1E/);
    expect(() => payloadsParam([{ payload: 'x', bytes: new Uint8Array([0x7b, PAYLOAD_END, 0x7d]) }])).toThrow(/0x1E/);
  });
});
