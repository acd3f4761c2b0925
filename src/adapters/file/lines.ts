/**
 * Reads a text file as batches of lines, fast: large reads, one string decode per chunk, and a
 * StringDecoder so that a multi-byte character split across chunks is never corrupted. Lines keep
 * their 1-based numbers (for error messages); `\r\n` endings are accepted.
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

export interface LineBatch {
  /** Number of the first line in `lines`. */
  readonly first: number;
  readonly lines: string[];
  /** Bytes read so far (for progress). */
  readonly bytes: number;
}

const CHUNK_BYTES = 1 << 20;

export async function* readLineBatches(path: string): AsyncGenerator<LineBatch> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let lineNo = 1;
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES })) {
    const buf = chunk as Buffer;
    bytes += buf.length;
    let text = carry + decoder.write(buf);
    // A UTF-8 byte-order mark is not part of the first line.
    if (lineNo === 1 && carry === '' && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const lines = text.split('\n');
    carry = lines.pop() ?? '';
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
    }
    yield { first: lineNo, lines, bytes };
    lineNo += lines.length;
  }
  const rest = carry + decoder.end();
  if (rest.length > 0) yield { first: lineNo, lines: [rest.endsWith('\r') ? rest.slice(0, -1) : rest], bytes };
}
