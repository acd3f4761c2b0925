/**
 * The line reader against a plain read-and-split, on files larger than its 1 MiB chunks, with
 * multi-byte characters straddling chunk boundaries, CRLF endings, empty lines, a BOM and no final
 * newline.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLineBatches } from './lines.js';

async function readAll(path: string): Promise<{ lines: string[]; firsts: boolean }> {
  const lines: string[] = [];
  let firsts = true;
  for await (const b of readLineBatches(path)) {
    if (b.first !== lines.length + 1) firsts = false;
    lines.push(...b.lines);
  }
  return { lines, firsts };
}

describe('readLineBatches', () => {
  const dir = mkdtempSync(join(tmpdir(), 'utl-lines-'));
  const lines: string[] = [];
  for (let i = 0, size = 0; size < 3_200_000; i++) {
    const line = i % 97 === 0 ? '' : `{"id":"é€😀${i}","note":"${'ß'.repeat(i % 13)}"}`;
    lines.push(line);
    size += line.length + 1;
  }

  it('yields every line, numbered, whatever the chunking (LF, no final newline)', async () => {
    const path = join(dir, 'lf.jsonl');
    writeFileSync(path, lines.join('\n'));
    const got = await readAll(path);
    expect(got.firsts).toBe(true);
    expect(got.lines).toEqual(lines);
  });

  it('keeps a line longer than several reads whole, and the lines around it', async () => {
    const path = join(dir, 'long.jsonl');
    const long = [`{"id":"long","note":"${'é'.repeat(1_300_000)}"}`, ...lines.slice(0, 500), 'x'.repeat(2_500_000), '', ...lines.slice(500, 900)];
    writeFileSync(path, `${long.join('\n')}\n`);
    const got = await readAll(path);
    expect(got.firsts).toBe(true);
    expect(got.lines).toEqual(long);
  });

  it('strips CRLF endings and a leading byte-order mark', async () => {
    const path = join(dir, 'crlf.jsonl');
    writeFileSync(path, `\uFEFF${lines.join('\r\n')}\r\n`);
    const got = await readAll(path);
    expect(got.lines).toEqual(lines);
  });
});
