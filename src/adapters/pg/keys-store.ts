/**
 * API keys in PostgreSQL (`utl_api_keys`, migration 4): create, list, revoke, find by id, and
 * note a use. Only the token's SHA-256 is stored; the token is shown once, by `utl keys create`.
 * Every statement is parameterised.
 */
import type { Sql } from '../../app/ports.js';
import type { ApiKeyRecord, ApiKeyRow, KeyStore, Scope } from '../../app/api-keys.js';

interface Row {
  id: string;
  name: string;
  scope: string;
  books: string | null;
  hash: string;
  created_at: string;
  revoked_at: string | null;
  last_used: string | null;
}

// Written out in full (no interpolation) so the SQL test (sql-params.unit.test.ts) sees every byte.
const SELECT_KEYS = `SELECT id, name, scope, books::text AS books, hash,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
  to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS revoked_at,
  to_char(last_used AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS last_used
  FROM utl_api_keys`;

function record(r: Row): ApiKeyRecord {
  return {
    id: r.id,
    name: r.name,
    scope: r.scope as Scope,
    books: r.books === null ? null : (JSON.parse(r.books) as string[]),
    hash: r.hash,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    lastUsed: r.last_used,
  };
}

/** A live key with this name already exists (one live key per name: the name is the audit actor). */
export class KeyNameTakenError extends Error {
  override readonly name = 'KeyNameTakenError';
  constructor(keyName: string, options: { cause: unknown }) {
    super(`a live API key named ${JSON.stringify(keyName)} exists: revoke it first, or choose another name`, options);
  }
}

export class PgKeyStore implements KeyStore {
  constructor(private readonly sql: Sql) {}

  async insert(row: ApiKeyRow): Promise<void> {
    try {
      await this.sql.query('INSERT INTO utl_api_keys (id, name, scope, books, hash) VALUES ($1, $2, $3, $4::jsonb, $5)', [row.id, row.name, row.scope, row.books === null ? null : JSON.stringify(row.books), row.hash]);
    } catch (err) {
      if ((err as { code?: string }).code === '23505' && String((err as Error).message).includes('utl_api_keys_live_name')) throw new KeyNameTakenError(row.name, { cause: err });
      throw err;
    }
  }

  async list(): Promise<ApiKeyRecord[]> {
    const { rows } = await this.sql.query<Row>(SELECT_KEYS + ' ORDER BY created_at, id');
    return rows.map(record);
  }

  async find(id: string): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.sql.query<Row>(SELECT_KEYS + ' WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : record(rows[0]);
  }

  /** True when the key was live and is now revoked; false when unknown or already revoked. */
  async revoke(id: string): Promise<boolean> {
    const r = await this.sql.query('UPDATE utl_api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [id]);
    return r.rowCount > 0;
  }

  async touch(id: string): Promise<void> {
    await this.sql.query('UPDATE utl_api_keys SET last_used = now() WHERE id = $1', [id]);
  }
}
