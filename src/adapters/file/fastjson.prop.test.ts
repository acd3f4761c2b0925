/**
 * The fast line parser never disagrees with JSON.parse: it declines, or returns the same value.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEventLine } from './fastjson.js';

function agrees(text: string): void {
  const fast = parseEventLine(text);
  if (fast === undefined) return;
  expect(fast).toStrictEqual(JSON.parse(text));
  expect(Object.getPrototypeOf(fast)).toBe(Object.prototype);
}

describe('parseEventLine', () => {
  it('parses canonical event lines exactly as JSON.parse does', () => {
    const line = '{"type":"trade","id":"t1","ts":"2026-01-02T10:00:00Z","book":"b1","venue":"binance","instrument":"BTC/USDT","side":"buy","qty":"1.5","price":"42000.10","fee":{"asset":"USDT","amount":"1.25"},"fees":[]}';
    expect(parseEventLine(line)).toStrictEqual(JSON.parse(line));
    expect(parseEventLine('{ "a" : "b" , "c" : [ { "d" : "e" } , "f" ] }')).toStrictEqual({ a: 'b', c: [{ d: 'e' }, 'f'] });
  });

  it('declines what it does not handle exactly', () => {
    for (const t of ['{"a":1}', '{"a":"\\u0041"}', '{"a":null}', '{"a":true}', '{"__proto__":"x"}', '{"a":"b"} x', '{"a":"b"', '[1]', '{"a":"tab\there"}', '{"a":"b",}', '{,}', '{"a" "b"}']) {
      expect(parseEventLine(t)).toBeUndefined();
    }
  });

  it('agrees with JSON.parse on any JSON value, however spaced', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(0, 2), (v, indent) => {
        agrees(JSON.stringify(v, null, indent));
        agrees(JSON.stringify({ wrapped: v }));
      }),
      { numRuns: 2000 },
    );
  });

  it('never accepts text JSON.parse rejects, and agrees on near-JSON strings', () => {
    const alphabet = fc.constantFrom('{', '}', '[', ']', '"', ':', ',', ' ', 'a', 'b', '\\', '1', 'n', '\t');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 30 }).map((cs) => `{${cs.join('')}`), (text) => {
        let valid = true;
        try {
          JSON.parse(text);
        } catch (e) {
          valid = !(e instanceof SyntaxError);
        }
        if (!valid) expect(parseEventLine(text)).toBeUndefined();
        else agrees(text);
      }),
      { numRuns: 5000 },
    );
  });
});
