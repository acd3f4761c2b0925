/**
 * API keys: what a key may do (a scope: read < write < admin) and see (every book, or a list),
 * how a token is minted, hashed and checked, and the `Principal` a request carries once its key
 * is known. The store is a port (`KeyStore`, PostgreSQL in src/adapters/pg/keys-store.ts).
 *
 * A token is `utl_<id>_<secret>`: `id` (16 hex characters) is public and finds the row; `secret`
 * is 32 random bytes (256 bits, base64url). Only SHA-256 of the whole token is stored.
 *
 * Why SHA-256 and not bcrypt/argon2: those are slow on purpose, to make guessing a *password*
 * (low entropy, chosen by a person) expensive. Our tokens are 256 random bits: no dictionary and
 * no brute force gets near them, so a slow hash adds nothing but latency on every request. A
 * plain fast hash keeps a stolen table useless while checking a key costs a microsecond.
 *
 * Invariants: a token is compared by its hash in constant time; a revoked key authenticates no
 * request once the cache entry that knew it live expires (`cacheMs`, 2 s by default).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isName } from '../domain/validate.js';

export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** admin implies write implies read. */
export function scopeAllows(held: Scope, needed: Scope): boolean {
  return SCOPES.indexOf(held) >= SCOPES.indexOf(needed);
}

/** What the store holds for a new key. */
export interface ApiKeyRow {
  readonly id: string;
  readonly name: string;
  readonly scope: Scope;
  /** The books the key may see; null: every book. */
  readonly books: readonly string[] | null;
  readonly hash: string;
}

export interface ApiKeyRecord extends ApiKeyRow {
  readonly createdAt: string;
  readonly revokedAt: string | null;
  readonly lastUsed: string | null;
}

export interface KeyStore {
  insert(row: ApiKeyRow): Promise<void>;
  list(): Promise<ApiKeyRecord[]>;
  find(id: string): Promise<ApiKeyRecord | undefined>;
  revoke(id: string): Promise<boolean>;
  touch(id: string): Promise<void>;
}

/** Who is asking: a live key. `books` undefined: every book (an unrestricted key). */
export interface Principal {
  readonly id: string;
  readonly name: string;
  readonly scope: Scope;
  readonly books: ReadonlySet<string> | undefined;
  canSee(book: string): boolean;
}

export function principalOf(r: Pick<ApiKeyRecord, 'id' | 'name' | 'scope' | 'books'>): Principal {
  const books = r.books === null ? undefined : new Set(r.books);
  return { id: r.id, name: r.name, scope: r.scope, books, canSee: (book) => books === undefined || books.has(book) };
}

const TOKEN_RE = /^utl_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Problems with a key request, all at once (empty: fine). */
export function keyProblems(name: string, scope: string, books: readonly string[] | null): string[] {
  const problems: string[] = [];
  if (!isName(name)) problems.push(`name: expected 1-128 letters, digits or ._:@/+- (it is the actor in the audit trail), got ${JSON.stringify(name)}`);
  if (!(SCOPES as readonly string[]).includes(scope)) problems.push(`scope: expected read, write or admin, got ${JSON.stringify(scope)}`);
  if (books !== null) {
    if (books.length === 0) problems.push('books: give at least one book (or leave --books out for every book)');
    for (const b of books) if (!isName(b)) problems.push(`books: ${JSON.stringify(b)} is not a book name`);
  }
  return problems;
}

/** Mints a key, stores its hash, and returns the token: the only time it is ever visible. */
export async function createKey(store: KeyStore, req: { name: string; scope: Scope; books: readonly string[] | null }): Promise<{ id: string; token: string }> {
  const problems = keyProblems(req.name, req.scope, req.books);
  if (problems.length > 0) throw new Error(`bad key request: ${problems.join('; ')}`);
  const id = randomBytes(8).toString('hex');
  const token = `utl_${id}_${randomBytes(32).toString('base64url')}`;
  await store.insert({ id, name: req.name, scope: req.scope, books: req.books === null ? null : [...new Set(req.books)].sort(), hash: hashToken(token) });
  return { id, token };
}

export interface AuthenticatorOptions {
  /** How long a looked-up key is trusted before it is read again (revocation delay). */
  readonly cacheMs: number;
  /** Most keys cached (a bound: cleared when full). */
  readonly cacheMax: number;
  /** `last_used` is written at most this often per key. */
  readonly touchEveryMs: number;
  readonly clock: () => number;
  /** Where a failed `last_used` write is reported (it never fails a request). */
  readonly onError?: (err: unknown, where: string) => void;
}

export const DEFAULT_AUTHENTICATOR: AuthenticatorOptions = { cacheMs: 2000, cacheMax: 10_000, touchEveryMs: 60_000, clock: Date.now };

/** Turns a presented token into a Principal (or undefined), with a short cache of rows by id. */
export class Authenticator {
  private readonly opts: AuthenticatorOptions;
  private readonly cache = new Map<string, { record: ApiKeyRecord | undefined; atMs: number }>();
  private readonly touchedAtMs = new Map<string, number>();

  constructor(
    private readonly store: KeyStore,
    options: Partial<AuthenticatorOptions> = {},
  ) {
    this.opts = { ...DEFAULT_AUTHENTICATOR, ...options };
  }

  async authenticate(token: string): Promise<Principal | undefined> {
    const m = TOKEN_RE.exec(token);
    if (m === null) return undefined;
    const id = m[1]!;
    const now = this.opts.clock();
    let hit = this.cache.get(id);
    if (hit === undefined || now - hit.atMs > this.opts.cacheMs) {
      hit = { record: await this.store.find(id), atMs: now };
      if (this.cache.size >= this.opts.cacheMax) this.cache.clear();
      this.cache.set(id, hit);
    }
    const r = hit.record;
    if (r === undefined || r.revokedAt !== null) return undefined;
    const given = Buffer.from(hashToken(token), 'hex');
    const stored = Buffer.from(r.hash, 'hex');
    if (given.length !== stored.length || !timingSafeEqual(given, stored)) return undefined;
    this.touch(id, now);
    return principalOf(r);
  }

  private touch(id: string, now: number): void {
    const last = this.touchedAtMs.get(id);
    if (last !== undefined && now - last < this.opts.touchEveryMs) return;
    if (this.touchedAtMs.size >= this.opts.cacheMax) this.touchedAtMs.clear();
    this.touchedAtMs.set(id, now);
    this.store.touch(id).catch((err: unknown) => this.opts.onError?.(err, 'api key last_used'));
  }
}
