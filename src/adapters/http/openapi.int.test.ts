/**
 * The OpenAPI description (openapi.ts) against the server `utl start` composes, on a real
 * PostgreSQL with auth required: the document is valid OpenAPI 3.1; its paths and methods are
 * exactly the routes the server registers (a route added without being documented, or documented
 * and gone, fails here); each operation's access (open or a key) is what the auth hook does; and
 * `/docs` with the document is served without a key.
 */
import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/support/pg.js';
import { serviceConfig, startOptions, waitUntil } from '../../../test/support/service.js';
import { createKey } from '../../app/api-keys.js';
import { startService, type Running } from '../../app/start.js';
import { PgKeyStore } from '../pg/keys-store.js';
import { pgSql } from '../pg/sql.js';
import { OPENAPI, type Method, type Schema } from './openapi.js';

/** The API's operations as `METHOD /path/{param}`; fastify's automatic HEADs and the docs' own routes left out. */
function served(routes: Running['routes']): string[] {
  const out = new Set<string>();
  for (const r of routes) {
    if (r.method === 'HEAD' || r.url === '/docs' || r.url.startsWith('/docs/')) continue;
    out.add(`${r.method} ${r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
  }
  return [...out].sort();
}

function documented(): string[] {
  return Object.entries(OPENAPI.paths)
    .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}

type Obj = { readonly [key: string]: unknown };
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** A schema with its `$ref`s followed and its `allOf` merged (the schemas here use no more). */
function resolved(s: Obj): Obj {
  let out = s;
  for (let target = out.$ref; typeof target === 'string'; target = out.$ref) {
    const rest = Object.fromEntries(Object.entries(out).filter(([k]) => k !== '$ref'));
    out = { ...(OPENAPI.components.schemas[target.split('/').pop()!] as Obj), ...rest };
  }
  if (Array.isArray(out.allOf)) {
    const parts = (out.allOf as Obj[]).map(resolved);
    out = {
      type: 'object',
      properties: Object.assign({}, ...parts.map((x) => x.properties ?? {})) as Obj,
      required: parts.flatMap((x) => (x.required ?? []) as string[]),
    };
  }
  return out;
}

/**
 * Where `value` departs from `schema`: the JSON Schema keywords openapi.ts uses, and stricter in
 * one way: an object's key the schema does not name is reported (an answer's field left
 * undocumented), unless it allows additional properties.
 */
function departures(schema: Obj, value: unknown, at = '$'): string[] {
  const s = resolved(schema);
  for (const key of ['oneOf', 'anyOf'] as const) {
    if (Array.isArray(s[key])) return (s[key] as Obj[]).some((x) => departures(x, value, at).length === 0) ? [] : [`${at}: matches none of ${key} (${JSON.stringify(value)?.slice(0, 80)})`];
  }
  if ('const' in s && value !== s.const) return [`${at}: not ${JSON.stringify(s.const)}`];
  if (Array.isArray(s.enum) && !s.enum.includes(value)) return [`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(s.enum)}`];
  switch (s.type) {
    case 'null':
      return value === null ? [] : [`${at}: not null`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${at}: not a boolean`];
    case 'integer':
      return Number.isInteger(value) ? [] : [`${at}: not an integer (${JSON.stringify(value)})`];
    case 'string': {
      if (typeof value !== 'string') return [`${at}: not a string (${JSON.stringify(value)?.slice(0, 80)})`];
      if (typeof s.pattern === 'string' && !new RegExp(s.pattern).test(value)) return [`${at}: ${JSON.stringify(value)} does not match ${s.pattern}`];
      if (s.format === 'date-time' && !TIMESTAMP.test(value)) return [`${at}: ${JSON.stringify(value)} is not a UTC timestamp`];
      return [];
    }
    case 'array':
      return Array.isArray(value) ? value.flatMap((v, i) => departures((s.items ?? {}) as Obj, v, `${at}[${i}]`)) : [`${at}: not an array`];
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: not an object`];
      const props = (s.properties ?? {}) as { [k: string]: Obj };
      const extra = s.additionalProperties;
      const out = ((s.required ?? []) as string[]).filter((k) => !(k in value)).map((k) => `${at}.${k}: missing`);
      for (const [k, v] of Object.entries(value)) {
        if (props[k] !== undefined) out.push(...departures(props[k], v, `${at}.${k}`));
        else if (typeof extra === 'object' && extra !== null) out.push(...departures(extra as Obj, v, `${at}.${k}`));
        else if (extra !== true) out.push(`${at}.${k}: not in the schema`);
      }
      return out;
    }
    default:
      return [];
  }
}

describe('OpenAPI description', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let running: Running;

  beforeAll(async () => {
    db = await freshDatabase();
    running = await startService(startOptions({ service: serviceConfig(), databaseUrl: db.url, auth: 'required' }));
  });
  afterAll(async () => {
    await running.stop();
    await db.drop();
  });

  it('is a valid OpenAPI 3.1 document, versioned as the package', async () => {
    expect(OPENAPI.openapi).toBe('3.1.0');
    await SwaggerParser.validate(structuredClone(OPENAPI) as unknown as Parameters<typeof SwaggerParser.validate>[0]);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(OPENAPI.info.version).toBe(pkg.version);
    const ids = Object.values(OPENAPI.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('documents every route the composed server registers, and no other', () => {
    const routes = served(running.routes);
    const docs = documented();
    expect(routes.length).toBeGreaterThan(20);
    const undocumented = routes.filter((r) => !docs.includes(r));
    const gone = docs.filter((d) => !routes.includes(d));
    expect(undocumented, 'routes the server registers that openapi.ts does not describe').toEqual([]);
    expect(gone, 'operations openapi.ts describes that the server does not register').toEqual([]);
  });

  it("each operation's access is what the auth hook does: open ones answer without a key, the others 401", async () => {
    for (const [path, item] of Object.entries(OPENAPI.paths)) {
      for (const [method, op] of Object.entries(item) as [Method, NonNullable<(typeof item)[Method]>][]) {
        const url = path.replace(/\{[^}]+\}/g, 'x');
        const r = await fetch(`${running.url}${url}`, { method: method.toUpperCase(), ...(method === 'post' ? { body: '{}', headers: { 'content-type': 'application/json' } } : {}) });
        await r.arrayBuffer();
        const where = `${method.toUpperCase()} ${path}`;
        if (op['x-scope'] === 'none') {
          expect(r.status, where).not.toBe(401);
          expect(op.security, where).toEqual([]);
        } else {
          expect(r.status, where).toBe(401);
          expect(op.responses['401'], where).toBeDefined();
          expect(op.security.length, where).toBeGreaterThan(0);
        }
      }
    }
  });

  it('the answers of the API, success and problems, conform to the documented schemas', async () => {
    const sql = pgSql(db.url);
    let token: string;
    try {
      token = (await createKey(new PgKeyStore(sql), { name: 'openapi-test', scope: 'admin', books: null })).token;
    } finally {
      await sql.close();
    }
    const call = async (method: 'GET' | 'POST', url: string, body?: string, type = 'application/json'): Promise<{ status: number; type: string; body: unknown }> => {
      const r = await fetch(`${running.url}${url}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': type }) }, ...(body === undefined ? {} : { body }) });
      return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.json() };
    };
    // The checker itself finds departures: a wrong type, a missing field, an undocumented one, a bad decimal.
    const wrong = departures({ $ref: '#/components/schemas/Positions' }, { asOf: 'today', reporting: 'USD', seq: 1.5, positions: [{ qty: 1 }], more: true });
    expect(wrong).toEqual(expect.arrayContaining(['$.asOf: matches none of oneOf ("today")', '$.seq: not an integer (1.5)', '$.positions[0].book: missing', '$.positions[0].qty: not a string (1)', '$.more: not in the schema']));
    expect(departures({ $ref: '#/components/schemas/Decimal' }, '1e3')).toHaveLength(1);
    const checked: string[] = [];
    /** Calls the route and holds its answer against the schema documented for that status. */
    const conforms = async (method: 'GET' | 'POST', path: string, url: string, expected: number, body?: string, type?: string): Promise<unknown> => {
      const r = await call(method, url, body, type);
      const where = `${method} ${url} → ${r.status}`;
      expect(r.status, `${where}: ${JSON.stringify(r.body).slice(0, 300)}`).toBe(expected);
      const media = r.type.split(';')[0]!;
      const schema = OPENAPI.paths[path]?.[method.toLowerCase() as Method]?.responses[String(r.status)]?.content?.[media]?.schema;
      expect(schema, `${where}: no ${media} schema documented`).toBeDefined();
      expect(departures(schema as Schema, r.body), where).toEqual([]);
      checked.push(`${method} ${path} ${r.status}`);
      return r.body;
    };

    for (const file of ['examples/desk.jsonl', 'examples/recon/log.jsonl']) await conforms('POST', '/events', '/events', 200, readFileSync(file, 'utf8'), 'application/x-ndjson');
    // No DOGE mark: unbooked (UNVALUED), so GET /unbooked has an item.
    const unvalued = { type: 'withdrawal', id: 'w-unvalued', ts: '2026-01-03T00:00:00Z', book: 'mm', venue: 'binance', asset: 'DOGE', qty: '1' };
    await conforms('POST', '/events', '/events', 200, JSON.stringify([unvalued]));
    await waitUntil(async () => ((await call('GET', '/breaks?status=all')).body as { items: unknown[] }).items.length > 0, 10_000, 'a break');
    const reads: [string, string][] = [
      ['/positions', '/positions'],
      ['/positions', '/positions?lots=1'],
      ['/positions', '/positions?book=mm&at=2026-01-02T12:00:00Z'],
      ['/books', '/books'],
      ['/exposure', '/exposure'],
      ['/rejected', '/rejected'],
      ['/unbooked', '/unbooked'],
      ['/state', '/state'],
      ['/events', '/events'],
      ['/events', '/events?type=trade&limit=5'],
      ['/healthz', '/healthz'],
      ['/readyz', '/readyz'],
      ['/breaks', '/breaks?status=all'],
      ['/recon/transfers', '/recon/transfers'],
      ['/checks', '/checks?run=1'],
      ['/alerts', '/alerts'],
      ['/alerts/history', '/alerts/history'],
      ['/balances', '/balances'],
      ['/balances', '/balances?book=mm&at=2026-01-02T12:00:00Z'],
      ['/pnl', '/pnl'],
      ['/pnl', '/pnl?at=2026-01-02T12:00:00Z&asset=BTC'],
      ['/snapshots', '/snapshots'],
      ['/export/{kind}', '/export/positions?format=json'],
      ['/export/{kind}', '/export/lots?format=json&at=2026-01-02T12:00:00Z'],
      ['/export/{kind}', '/export/pnl?format=json&from=2026-01-01T00:00:00Z'],
      ['/export/{kind}', '/export/events?format=json&to=2026-01-02T12:00:00Z'],
    ];
    for (const [path, url] of reads) await conforms('GET', path, url, 200);

    const { items } = (await call('GET', '/breaks?status=all')).body as { items: { id: string; status: string }[] };
    const open = items.find((b) => b.status === 'open') ?? items[0]!;
    const id = encodeURIComponent(open.id);
    await conforms('GET', '/breaks/{id}', `/breaks/${id}`, 200);
    await conforms('POST', '/breaks/{id}/acknowledge', `/breaks/${id}/acknowledge`, 200, JSON.stringify({ note: 'looking' }));
    await conforms('POST', '/breaks/{id}/resolve', `/breaks/${id}/resolve`, 200, JSON.stringify({ reason: 'known: the venue is late' }));
    await conforms('GET', '/audit', '/audit', 200);
    const trades = JSON.parse(readFileSync('examples/recon/venue-trades.json', 'utf8')) as unknown;
    await conforms('POST', '/recon/trades', '/recon/trades', 200, JSON.stringify({ venue: 'binance', trades }));
    const balance = { timestamp: 1767354000000, BTC: { free: 1.25, used: 0.25, total: 1.5 }, free: { BTC: 1.25 }, used: { BTC: 0.25 }, total: { BTC: 1.5 } };
    await conforms('POST', '/recon/balances', '/recon/balances', 200, JSON.stringify({ venue: 'binance', account: 'main', balance }));

    await conforms('POST', '/snapshots', '/snapshots', 201, JSON.stringify({ day: '2026-01-02' }));
    await conforms('GET', '/snapshots/{day}', '/snapshots/2026-01-02', 200);
    await conforms('GET', '/snapshots/{day}', '/snapshots/2026-01-03?type=sod&lots=1&book=mm', 200);

    // Problems: the documented status, media type and code.
    await conforms('GET', '/snapshots/{day}', '/snapshots/2025-01-01', 404);
    await conforms('GET', '/snapshots/{day}', '/snapshots/2026-02-30', 400);
    await conforms('POST', '/snapshots', '/snapshots', 409, JSON.stringify({ day: '2999-01-01' }));
    await conforms('GET', '/pnl', '/pnl?at=yesterday', 400);
    await conforms('GET', '/export/{kind}', '/export/widgets', 404);
    await conforms('GET', '/positions', '/positions?at=yesterday', 400);
    await conforms('GET', '/events', '/events?type=nope', 400);
    await conforms('GET', '/breaks/{id}', '/breaks/brk:nope', 404);
    await conforms('POST', '/breaks/{id}/acknowledge', `/breaks/${id}/acknowledge`, 409, '{}');
    await conforms('POST', '/breaks/{id}/resolve', '/breaks/brk:nope/resolve', 400, '{"adjust":1}');
    await conforms('POST', '/events', '/events', 400, '{"type":');
    await conforms('POST', '/recon/trades', '/recon/trades', 422, JSON.stringify({ venue: 'binance', trades: [{ type: 'price' }] }));
    expect(checked.length).toBeGreaterThan(30);
  });

  it('serves the document and Swagger UI at /docs without a key, while the API needs one', async () => {
    expect((await fetch(`${running.url}/positions`)).status).toBe(401);

    const spec = await fetch(`${running.url}/docs/openapi.json`);
    expect(spec.status).toBe(200);
    expect(spec.headers.get('content-type')).toContain('application/json');
    expect(await spec.json()).toEqual(JSON.parse(JSON.stringify(OPENAPI)));

    const ui = await fetch(`${running.url}/docs`);
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toContain('text/html');
    const html = await ui.text();
    expect(html).toContain('swagger-ui');

    // The page's own assets come from this server (no CDN), also without a key.
    for (const asset of ['/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-ui.css', '/docs/static/swagger-initializer.js', '/docs/json']) {
      const r = await fetch(`${running.url}${asset}`);
      await r.arrayBuffer();
      expect(r.status, asset).toBe(200);
    }
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1|localhost)[^"']*\.(js|css)/);
  });
});
