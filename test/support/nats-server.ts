/**
 * A private nats-server (JetStream on, its own port and store directory) for tests that stop and
 * restart the broker: they never disturb the shared server on 127.0.0.1:4222 that other test
 * files use at the same time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';

export const NATS_BIN = process.env.UTL_TEST_NATS_BIN ?? '/usr/sbin/nats-server';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface PrivateNats {
  readonly url: string;
  /** Stops the server (SIGTERM, or SIGKILL when `hard`) and starts it again on the same port and store. */
  restart(opts?: { hard?: boolean; downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

export async function privateNats(): Promise<PrivateNats> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'utl-nats-'));
  let proc: ChildProcess | undefined;
  const up = async (): Promise<void> => {
    proc = spawn(NATS_BIN, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await portOpen(port))) {
      if (Date.now() > deadline) throw new Error(`nats-server did not start on ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const down = async (signal: NodeJS.Signals): Promise<void> => {
    const p = proc;
    if (p === undefined || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  };
  await up();
  return {
    url: `nats://127.0.0.1:${port}`,
    async restart(opts = {}) {
      await down(opts.hard === true ? 'SIGKILL' : 'SIGTERM');
      if (opts.downMs !== undefined) await new Promise((r) => setTimeout(r, opts.downMs));
      await up();
    },
    async stop() {
      await down('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
