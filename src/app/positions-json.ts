/**
 * The JSON of answers that carry a book's positions (GET /positions, the book updates) as UTF-8
 * bytes: `JSON.stringify({ ...head, positions })`, byte for byte, with each position's bytes kept
 * beside its report. A report is immutable, and a position that has not changed is the same
 * object from one report to the next (`buildPositions` keeps its valuation), so only the changed
 * positions are serialized again; the body is then a copy of bytes, with no large string to
 * build, measure and encode (a book of 5,000 positions is about 1.5 MB).
 */
import type { PositionReport } from '../domain/report.js';

const encoder = new TextEncoder();
/** Each piece has its own small buffer (not a slice of a shared pool that a kept piece would pin). */
const bytesOf = new WeakMap<PositionReport, Uint8Array>();
const COMMA = encoder.encode(',');
const CLOSE = encoder.encode(']}');
/** The size of the chunks of `positionsBody`. */
const CHUNK = 64 * 1024;

/** A position's JSON as UTF-8, kept beside its (immutable) report. */
export function positionBytes(p: PositionReport): Uint8Array {
  let bytes = bytesOf.get(p);
  if (bytes === undefined) {
    bytes = encoder.encode(JSON.stringify(p));
    bytesOf.set(p, bytes);
  }
  return bytes;
}

/** `JSON.stringify(head)` opened for the positions: `{…,"positions":[`. */
function openBytes(head: Readonly<Record<string, unknown>>): Uint8Array {
  const h = JSON.stringify(head);
  return encoder.encode(`${h.slice(0, -1)}${h.length > 2 ? ',' : ''}"positions":[`);
}

/** The body's pieces in order (the positions' kept bytes among them), and its length. */
function pieces(head: Readonly<Record<string, unknown>>, positions: readonly PositionReport[]): { pieces: Uint8Array[]; length: number } {
  const out: Uint8Array[] = [openBytes(head)];
  let length = out[0]!.length + CLOSE.length;
  for (const [i, p] of positions.entries()) {
    const bytes = positionBytes(p);
    if (i > 0) out.push(COMMA);
    out.push(bytes);
    length += bytes.length + (i > 0 ? 1 : 0);
  }
  out.push(CLOSE);
  return { pieces: out, length };
}

/** The body in one buffer; undefined when it would be longer than `maxBytes` (then it is not put together). */
export function withPositions(head: Readonly<Record<string, unknown>>, positions: readonly PositionReport[]): Buffer;
export function withPositions(head: Readonly<Record<string, unknown>>, positions: readonly PositionReport[], maxBytes: number | undefined): Buffer | undefined;
export function withPositions(head: Readonly<Record<string, unknown>>, positions: readonly PositionReport[], maxBytes?: number): Buffer | undefined {
  const b = pieces(head, positions);
  return maxBytes !== undefined && b.length > maxBytes ? undefined : Buffer.concat(b.pieces, b.length);
}

/** The positions' bytes of the body being written (reused: `positionsBody` is synchronous). */
const scratch: Uint8Array[] = [];

/**
 * The body in chunks of 64 KiB (the last one shorter), to be written one after the other (an
 * HTTP answer): no buffer of the whole body is allocated (for a large body that costs more than
 * the copy itself: fresh memory, page by page), and each position's kept bytes are copied
 * straight into the chunk they fall in.
 */
export function positionsBody(head: Readonly<Record<string, unknown>>, positions: readonly PositionReport[]): { length: number; chunks: Buffer[] } {
  scratch.length = positions.length;
  for (let i = 0; i < positions.length; i++) scratch[i] = positionBytes(positions[i]!);
  const body = joinedBody(head, scratch);
  scratch.length = 0;
  return body;
}

/**
 * `{…head,"positions":[` then `parts` joined by commas, then `]}`, in chunks of 64 KiB (the last
 * one shorter): `positionsBody` from the positions' bytes.
 */
export function joinedBody(head: Readonly<Record<string, unknown>>, parts: readonly Uint8Array[]): { length: number; chunks: Buffer[] } {
  const open = openBytes(head);
  let length = open.length + CLOSE.length + Math.max(0, parts.length - 1);
  for (let i = 0; i < parts.length; i++) length += parts[i]!.length;
  const chunks: Buffer[] = [];
  let chunk = Buffer.allocUnsafeSlow(Math.min(CHUNK, length));
  let at = 0;
  let left = length;
  const put = (bytes: Uint8Array): void => {
    let from = 0;
    while (from < bytes.length) {
      if (at === chunk.length) {
        chunks.push(chunk);
        left -= chunk.length;
        chunk = Buffer.allocUnsafeSlow(Math.min(CHUNK, left));
        at = 0;
      }
      const n = Math.min(bytes.length - from, chunk.length - at);
      chunk.set(from === 0 && n === bytes.length ? bytes : bytes.subarray(from, from + n), at);
      at += n;
      from += n;
    }
  };
  put(open);
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) put(COMMA);
    put(parts[i]!);
  }
  put(CLOSE);
  chunks.push(chunk);
  return { length, chunks };
}
