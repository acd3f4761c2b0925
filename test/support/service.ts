/** Helpers for tests of the running service: events, subjects, the offline digest to compare with. */
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateLog } from '../../bench/generate.js';
import type { NatsConnection } from '../../src/adapters/nats/jetstream.js';
import { replayFile, type ReplayResult } from '../../src/app/replay.js';
import { DEFAULT_SERVICE_CONFIG, type Logger, type ServiceConfig } from '../../src/app/service.js';
import { DEFAULT_START, type StartOptions } from '../../src/app/start.js';

export const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export const SETTINGS = { method: 'fifo', fees: 'separate', pool: 'book' } as const;

export function serviceConfig(over: Partial<ServiceConfig> = {}): ServiceConfig {
  return { ...DEFAULT_SERVICE_CONFIG, settings: SETTINGS, ...over };
}

/** Names no other test run uses: stream, subject prefix, consumer, updates prefix. */
export function uniqueNames(): { stream: string; subjects: string; consumer: string; updates: string } {
  const r = randomBytes(4).toString('hex');
  return { stream: `UTL_TEST_${r.toUpperCase()}`, subjects: `utltest_${r}.events`, consumer: `c_${r}`, updates: `utltest_${r}.updates` };
}

export function startOptions(over: Partial<StartOptions> & { service: ServiceConfig }): StartOptions {
  return { ...DEFAULT_START, port: 0, logLevel: 'silent', ...over };
}

/** The generated log of the benchmark (fills and marks), as lines. */
export function generatedLines(fills: number, seed = 7): string[] {
  const lines: string[] = [];
  generateLog({ fills, seed, instruments: 8, venues: 3, pricesEvery: 50 }, (l) => lines.push(l));
  return lines;
}

/** The subject an event line goes to: its book's, or `global` for marks, terms and corrections. */
export function subjectOf(prefix: string, line: string): string {
  const m = /"book":"([^"]+)"/.exec(line);
  return `${prefix}.${m?.[1] ?? 'global'}`;
}

/** `utl replay` of these lines (in this order), with the service's default settings. */
export async function offline(lines: readonly string[]): Promise<ReplayResult> {
  const dir = await mkdtemp(join(tmpdir(), 'utl-offline-'));
  try {
    const path = join(dir, 'log.jsonl');
    await writeFile(path, `${lines.join('\n')}\n`);
    return await replayFile(path, { settings: SETTINGS, reporting: 'USD', cashLike: [], until: undefined, ccxt: {}, lots: false });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Whether JetStream answers for this stream now (it exists, and the server is up). */
export async function streamAnswers(nc: NatsConnection, stream: string): Promise<boolean> {
  try {
    await (await jetstreamManager(nc)).streams.info(stream);
    return true;
  } catch {
    return false;
  }
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
