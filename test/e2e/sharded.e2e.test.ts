/**
 * The sharded replay (--threads) gives byte-for-byte the output of the single-threaded one, and
 * falls back to one thread whenever shards alone could not decide (an id in two books, a late
 * event): on generated logs above the sharding threshold (16 MB).
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bufferedFileWriter, generateLog } from '../../bench/generate.js';

const ROOT = new URL('../../', import.meta.url).pathname;

function replay(file: string, threads: number): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'utl.js'), 'replay', file, '--json', '--threads', String(threads)], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout };
}

describe('utl replay --threads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'utl-sharded-'));
  const file = join(dir, 'log.jsonl');
  const w = bufferedFileWriter(file);
  generateLog({ fills: 80_000, seed: 7 }, w.write);
  w.close();

  it('gives the single-threaded output byte for byte', () => {
    const one = replay(file, 1);
    const two = replay(file, 2);
    expect(one.status).toBe(0);
    expect(two.status).toBe(0);
    expect(two.stdout).toBe(one.stdout);
    expect((JSON.parse(one.stdout) as { counts: { rebooked: boolean } }).counts.rebooked).toBe(false);
  });

  it('falls back to one thread for an id used in two books, and for a late event, with the same result', () => {
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const dup = join(dir, 'dup.jsonl');
    // The first trade again under the same id in the other book: a conflict only a whole view sees.
    const first = lines.find((l) => l.includes('"type":"trade"'))!;
    const other = first.includes('"book":"b1"') ? first.replace('"book":"b1"', '"book":"b2"') : first.replace('"book":"b2"', '"book":"b1"');
    writeFileSync(dup, `${lines.join('\n')}\n`);
    appendFileSync(dup, `${other}\n`);
    const a = replay(dup, 1);
    const b = replay(dup, 2);
    expect(a.status).toBe(3);
    expect(b.stdout).toBe(a.stdout);
    expect((JSON.parse(a.stdout) as { rejected: { code: string }[] }).rejected.map((r) => r.code)).toEqual(['DUPLICATE_CONFLICT']);

    const late = join(dir, 'late.jsonl');
    const lateTrade = first.replace(/"id":"[^"]+"/, '"id":"late-1"');
    writeFileSync(late, `${lines.join('\n')}\n${lateTrade}\n`);
    const c = replay(late, 1);
    const d = replay(late, 2);
    expect(c.status).toBe(0);
    expect(d.stdout).toBe(c.stdout);
    expect((JSON.parse(c.stdout) as { counts: { rebooked: boolean } }).counts.rebooked).toBe(true);
  });
});
