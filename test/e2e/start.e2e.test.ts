/**
 * `utl start` on a fresh machine: no DATABASE_URL, no NATS_URL — the embedded PostgreSQL (PGlite)
 * in a data folder and the in-process bus. Events over HTTP give utl replay's digest; a clean stop
 * takes a checkpoint, and the next start restores it without replaying the log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { offline, waitUntil } from '../support/service.js';
import { freePort } from '../support/net.js';

describe('utl start on the embedded defaults', () => {
  it('serves HTTP, books as utl replay does, stops cleanly and restarts from its checkpoint', async () => {
    const data = await mkdtemp(join(tmpdir(), 'utl-start-'));
    const port = await freePort();
    const env = { ...process.env, DATABASE_URL: '', NATS_URL: '', UTL_LOG_LEVEL: 'info' };
    let stderr = '';
    const run = (): ChildProcess => {
      const c = spawn(process.execPath, ['bin/utl.js', 'start', '--port', String(port), '--data', data], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      return c;
    };
    const ready = async (): Promise<boolean> => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
    const stop = async (c: ChildProcess): Promise<number | null> => {
      const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
      c.kill('SIGTERM');
      return exited;
    };
    let child = run();
    try {
      await waitUntil(ready, 90_000, 'the service to be ready');
      expect(stderr).toContain(`serving on http://127.0.0.1:${port} (store: embedded`);
      const body = await readFile('examples/desk.jsonl', 'utf8');
      const posted = await fetch(`http://127.0.0.1:${port}/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      expect(posted.status).toBe(200);
      const expected = await offline(body.split('\n').filter((l) => l.trim().length > 0));
      const state = async (): Promise<{ digest: string; seq: number }> => (await fetch(`http://127.0.0.1:${port}/state`)).json() as Promise<{ digest: string; seq: number }>;
      const before = await state();
      expect(before.digest).toBe(expected.digest);

      expect(await stop(child)).toBe(0);
      stderr = '';
      child = run();
      await waitUntil(ready, 90_000, 'the service to be ready again');
      const after = await state();
      expect({ seq: after.seq, digest: after.digest }).toEqual({ seq: before.seq, digest: before.digest });
      // Restored from the checkpoint of the clean stop: no tail to replay.
      expect(stderr).toMatch(/"restoredSeq":\d+,"tail":0/);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- stderr ---\n${stderr.slice(-3000)}`, { cause: err });
    } finally {
      if (child.exitCode === null) await stop(child);
      await rm(data, { recursive: true, force: true });
    }
  }, 200_000);
});
