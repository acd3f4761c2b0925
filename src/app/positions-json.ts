/**
 * The JSON of answers that carry a book's positions (GET /positions, the book updates) as UTF-8
 * bytes: `JSON.stringify({ ...head, positions })`, byte for byte, with each position's bytes kept
 * beside its report. A report is immutable, and a position that has not changed is the same
 * object from one report to the next (`buildPositions` keeps its valuation), so only the changed
 * positions are serialized again; the body is then one copy of bytes, with no large string to
 * build, measure and encode (a book of 5,000 positions is about 1.5 MB).
 */
import type { PositionReport } from '../domain/report.js';

const encoder = new TextEncoder();
/** Each piece has its own small buffer (not a slice of a shared pool that a kept piece would pin). */
const bytesOf = new WeakMap<PositionReport, Uint8Array>();
const COMMA = encoder.encode(',');
const CLOSE = encoder.encode(']}');

/** The body; undefined when it would be longer than `maxBytes` (then it is not put together). */
export function withPositions(head: Readonly<Record<string, unknown>>, positions: readonly PositionReport[]): Buffer;
export function withPositions(head: Readonly<Record<string, unknown>>, positions: readonly PositionReport[], maxBytes: number | undefined): Buffer | undefined;
export function withPositions(head: Readonly<Record<string, unknown>>, positions: readonly PositionReport[], maxBytes?: number): Buffer | undefined {
  const h = JSON.stringify(head);
  const pieces: Uint8Array[] = [encoder.encode(`${h.slice(0, -1)}${h.length > 2 ? ',' : ''}"positions":[`)];
  let length = pieces[0]!.length + CLOSE.length;
  for (const [i, p] of positions.entries()) {
    let bytes = bytesOf.get(p);
    if (bytes === undefined) {
      bytes = encoder.encode(JSON.stringify(p));
      bytesOf.set(p, bytes);
    }
    if (i > 0) pieces.push(COMMA);
    pieces.push(bytes);
    length += bytes.length + (i > 0 ? 1 : 0);
  }
  pieces.push(CLOSE);
  return maxBytes !== undefined && length > maxBytes ? undefined : Buffer.concat(pieces, length);
}
