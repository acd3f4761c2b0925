/**
 * `utl keys create|list|revoke`: the API keys of the HTTP API, in the same store `utl start` uses
 * (DATABASE_URL, or the embedded PostgreSQL in --data; the embedded store is one process at a
 * time, so stop the service first). `create` prints the token once, alone on stdout (for
 * `TOKEN=$(utl keys create …)`); only its SHA-256 is kept.
 */
import { Command, Option } from 'commander';
import { join } from 'node:path';
import { createKey, keyProblems, SCOPES, type ApiKeyRecord, type Scope } from '../app/api-keys.js';
import type { PgKeyStore } from '../adapters/pg/keys-store.js';

const OK = 0;
const USAGE = 2;

interface StoreFlags {
  data: string;
  databaseUrl?: string;
  json?: boolean;
}

function storeOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--data <dir>', 'data folder of the embedded PostgreSQL (when no DATABASE_URL)').env('UTL_DATA_DIR').default('.utl'))
    .addOption(new Option('--database-url <url>', 'PostgreSQL server (default: the embedded one)').env('DATABASE_URL'));
}

/** Opens the store, migrates it, runs `fn`, closes; what the operator can fix is a usage error. */
async function withStore(flags: StoreFlags, err: NodeJS.WritableStream, fn: (store: PgKeyStore) => Promise<number>): Promise<number> {
  // The store's modules (pg, PGlite) load with the command that needs them, not with every `utl`.
  const [{ openSql }, { migrate }, { PgKeyStore }] = await Promise.all([import('../adapters/pg/sql.js'), import('../adapters/pg/migrations.js'), import('../adapters/pg/keys-store.js')]);
  let sql;
  try {
    sql = await openSql({ databaseUrl: flags.databaseUrl === '' ? undefined : flags.databaseUrl, dataDir: join(flags.data, 'pg') });
  } catch (e) {
    const name = (e as Error).name;
    if (name === 'DatabaseUnreachableError' || name === 'DataDirInUseError') {
      err.write(`utl keys: ${(e as Error).message}\n`);
      return USAGE;
    }
    throw e;
  }
  try {
    await migrate(sql);
    return await fn(new PgKeyStore(sql));
  } catch (e) {
    if ((e as Error).name === 'KeyNameTakenError') {
      err.write(`utl keys: ${(e as Error).message}\n`);
      return USAGE;
    }
    throw e;
  } finally {
    await sql.close();
  }
}

function row(k: ApiKeyRecord): string[] {
  return [k.id, k.name, k.scope, k.books === null ? '*' : k.books.join(','), k.createdAt, k.lastUsed ?? '-', k.revokedAt ?? '-'];
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** Adds `utl keys` to `program`; `done` receives each command's exit code. */
export function addKeysCommand(program: Command, out: NodeJS.WritableStream, err: NodeJS.WritableStream, done: (code: number) => void): void {
  const keys = program.command('keys').description('API keys of the HTTP API (docs/operations.md): create, list, revoke');

  storeOptions(keys.command('create').description('create a key and print its token (shown once)'))
    .requiredOption('--name <name>', 'who uses it: the actor in the audit trail (one live key per name)')
    .addOption(new Option('--scope <scope>', 'read < write < admin (each implies the ones before)').choices(SCOPES).makeOptionMandatory())
    .option('--books <books>', 'comma-separated books the key may see and write (default: every book)')
    .action(async (flags: StoreFlags & { name: string; scope: Scope; books?: string }) => {
      const books = flags.books === undefined ? null : flags.books.split(',').map((b) => b.trim()).filter((b) => b.length > 0);
      const problems = keyProblems(flags.name, flags.scope, books);
      if (problems.length > 0) {
        err.write(`utl keys create:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
        done(USAGE);
        return;
      }
      done(
        await withStore(flags, err, async (store) => {
          const k = await createKey(store, { name: flags.name, scope: flags.scope, books });
          err.write(`utl keys: created key ${k.id} (${flags.name}, ${flags.scope}, books: ${books === null ? 'every book' : books.join(',')}). The token below is shown once: store it now.\n`);
          out.write(`${k.token}\n`);
          return OK;
        }),
      );
    });

  storeOptions(keys.command('list').description('list keys (never their tokens)'))
    .option('--json', 'print JSON')
    .action(async (flags: StoreFlags) => {
      done(
        await withStore(flags, err, async (store) => {
          const all = await store.list();
          if (flags.json === true) out.write(`${JSON.stringify(all.map(({ hash: _hash, ...k }) => k))}\n`);
          else out.write(`${table([['id', 'name', 'scope', 'books', 'created', 'last used', 'revoked'], ...all.map(row)])}\n`);
          return OK;
        }),
      );
    });

  storeOptions(keys.command('revoke').description('revoke a key: it authenticates nothing from then on (within 2 s on a running service)'))
    .argument('<id>', 'the key id (`utl keys list`)')
    .action(async (id: string, flags: StoreFlags) => {
      done(
        await withStore(flags, err, async (store) => {
          if (await store.revoke(id)) {
            err.write(`utl keys: revoked ${id}\n`);
            return OK;
          }
          err.write(`utl keys: no live key with id ${JSON.stringify(id)}\n`);
          return USAGE;
        }),
      );
    });
}
