/**
 * `utl keys create|list|revoke` on the embedded store (a temporary data folder): the token is
 * printed once and never listed; a revoked key shows its revocation; bad requests are usage errors.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from './main.js';

async function utl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (d: Buffer) => (o += d.toString()));
  err.on('data', (d: Buffer) => (e += d.toString()));
  const code = await main(['node', 'utl', ...args], out, err);
  return { code, out: o, err: e };
}

describe('utl keys', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'utl-keys-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates (token printed once), lists (no token, no hash), revokes', async () => {
    const created = await utl('keys', 'create', '--data', dir, '--database-url', '', '--name', 'desk-bot', '--scope', 'write', '--books', 'mm,otc');
    expect(created.code).toBe(0);
    const token = created.out.trim();
    expect(token).toMatch(/^utl_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const id = token.split('_')[1]!;
    const listed = await utl('keys', 'list', '--data', dir, '--database-url', '', '--json');
    expect(listed.code).toBe(0);
    expect(listed.out).not.toContain(token.split('_')[2]!);
    expect(JSON.parse(listed.out)).toEqual([expect.objectContaining({ id, name: 'desk-bot', scope: 'write', books: ['mm', 'otc'], revokedAt: null })]);
    expect(listed.out).not.toContain('"hash"');
    expect((await utl('keys', 'create', '--data', dir, '--database-url', '', '--name', 'desk-bot', '--scope', 'read')).code).toBe(2);
    expect((await utl('keys', 'revoke', id, '--data', dir, '--database-url', '')).code).toBe(0);
    expect((await utl('keys', 'revoke', id, '--data', dir, '--database-url', '')).code).toBe(2);
    const table = await utl('keys', 'list', '--data', dir, '--database-url', '');
    expect(table.out).toMatch(new RegExp(`${id}\\s+desk-bot\\s+write\\s+mm,otc\\s+\\S+\\s+-\\s+\\d{4}-`));
    expect((await utl('keys', 'create', '--data', dir, '--database-url', '', '--name', 'bad name', '--scope', 'admin')).code).toBe(2);
    expect((await utl('keys', 'create', '--data', dir, '--database-url', '', '--name', 'x', '--scope', 'root')).code).toBe(2);
  }, 60_000);
});
