/**
 * The OpenAPI 3.1 description of the HTTP API, written by hand from the handlers (server.ts,
 * events-routes.ts, recon-routes.ts, alerts-routes.ts, ws.ts, ui-routes.ts); served at
 * `/docs/openapi.json` with its interactive page at `/docs` (docs-routes.ts). docs/api.md is the
 * prose reference; this is the same API for machines.
 *
 * Each route is one `RouteDoc` in the object of its area (`EVENTS`, `STATE`, `RECON`, …), keyed by
 * its path (`{id}` for fastify's `:id`) and method. `operation()` adds what every route shares and
 * the code decides elsewhere: the security and scope (from auth.ts `routePolicy`, so they cannot
 * drift from the hook), 401/403 where a key is needed, 413/429 on writes, 500 everywhere.
 * openapi.int.test.ts holds the paths against the routes the composed server registers: a route
 * added without a `RouteDoc` fails it.
 *
 * To document a new route: add a `RouteDoc` to its area's object (or a new area object, spread
 * into `PATHS`), naming the problems its handler answers itself (`problems`), and any new
 * response shapes under `SCHEMAS`.
 */
import { routePolicy } from './auth.js';

// ---- the document's types (the parts of OpenAPI 3.1 this description uses) ----

export type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };
/** A JSON Schema (2020-12, the dialect of OpenAPI 3.1). */
export type Schema = { readonly [key: string]: Json };
export type Method = 'get' | 'post';

export interface Parameter {
  readonly name: string;
  readonly in: 'query' | 'path' | 'header';
  readonly description: string;
  readonly required?: boolean;
  readonly schema: Schema;
}

export interface MediaType {
  readonly schema: Schema;
  readonly example?: Json;
}

export interface Response {
  readonly description: string;
  readonly headers?: { readonly [name: string]: { readonly description: string; readonly schema: Schema } };
  readonly content?: { readonly [mediaType: string]: MediaType };
}

export interface RequestBody {
  readonly description: string;
  readonly required: boolean;
  readonly content: { readonly [mediaType: string]: MediaType };
}

/** Which key a route needs (auth.ts `routePolicy`): `none` is open, even with auth on. */
export type ScopeNeeded = 'none' | 'read' | 'write' | 'admin';

export interface Operation {
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly parameters?: readonly Parameter[];
  readonly requestBody?: RequestBody;
  readonly responses: { readonly [status: string]: Response };
  readonly security: readonly { readonly [scheme: string]: readonly string[] }[];
  readonly 'x-scope': ScopeNeeded;
  /** A key restricted to some books is refused (403): the route shows firm-wide data. */
  readonly 'x-every-book': boolean;
}

export type PathItem = { readonly [M in Method]?: Operation };

export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: { readonly title: string; readonly version: string; readonly summary: string; readonly description: string };
  readonly tags: readonly { readonly name: string; readonly description: string }[];
  readonly paths: { readonly [path: string]: PathItem };
  readonly components: {
    readonly schemas: { readonly [name: string]: Schema };
    readonly securitySchemes: { readonly [name: string]: Schema };
  };
}

// ---- what a route's author writes ----

/** A problem+json answer a handler gives itself: its status, stable `code`, and when. */
export interface ProblemDoc {
  readonly status: number;
  /** The `code`; one ending in `*` stands for a family (the framework's `FST_ERR_…` codes). */
  readonly code: string;
  readonly when: string;
}

export interface RouteDoc {
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tag: Tag;
  readonly parameters?: readonly Parameter[];
  readonly requestBody?: RequestBody;
  /** The answers that are not problems, by status. */
  readonly responses: { readonly [status: string]: Response };
  /** The problems the handler answers itself; `operation()` adds auth, limits and 500. */
  readonly problems?: readonly ProblemDoc[];
  /** Security schemes besides the two headers (GET /ws also reads `?token=`). */
  readonly alsoSecurity?: readonly SecurityScheme[];
}

/** The routes of one area: path (OpenAPI form) → method → its description. */
export type Area = { readonly [path: string]: { readonly [M in Method]?: RouteDoc } };

const TAGS = {
  events: 'Commit events, and search the event log.',
  state: 'Positions, books, exposure, rejections and the state digest.',
  reconciliation: 'Breaks against venue balance reports, trade and transfer reconciliation, consistency checks, the audit trail.',
  alerts: 'Alerts pending or firing, and the notifications sent.',
  live: 'The live WebSocket API.',
  operations: 'Probes and metrics.',
  dashboard: "The dashboard's static files (docs/dashboard.md).",
  reports: 'Balances, PnL over periods (today, MTD, YTD, inception), end-of-day snapshots, and exports (CSV, JSON, JSON Lines).',
} as const;
export type Tag = keyof typeof TAGS;

const SECURITY_SCHEMES = {
  bearer: {
    type: 'http',
    scheme: 'bearer',
    description:
      'An API key (`utl keys create`) as `Authorization: Bearer <token>`. Needed when the service runs with `--auth required` (the default with a DATABASE_URL); with auth off every route is open. ' +
      'The roles listed in each requirement are the key scope the route needs (`read` < `write` < `admin`).',
  },
  apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same API key as `X-API-Key: <token>`.' },
  token: { type: 'apiKey', in: 'query', name: 'token', description: 'GET /ws only: the API key as `?token=<token>`, since browsers cannot set headers on a WebSocket.' },
} as const;
type SecurityScheme = keyof typeof SECURITY_SCHEMES;

// ---- schemas ----

/** A reference to a schema of `SCHEMAS` (a dangling one fails the document's validation in the test). */
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const nullable = (s: Schema): Schema => ({ oneOf: [s, { type: 'null' }] });
const str = (description: string): Schema => ({ type: 'string', description });
const int = (description: string): Schema => ({ type: 'integer', description });
const arrayOf = (items: Schema, description?: string): Schema => ({ type: 'array', items, ...(description === undefined ? {} : { description }) });
const obj = (properties: { readonly [name: string]: Schema }, required: readonly string[] = Object.keys(properties), description?: string): Schema => ({
  type: 'object',
  properties,
  required,
  ...(description === undefined ? {} : { description }),
});
const dec = (description: string): Schema => ({ ...ref('Decimal'), description });
const ts = (description: string): Schema => ({ ...ref('Timestamp'), description });

const EVENT_TYPES = ['trade', 'price', 'transfer', 'deposit', 'withdrawal', 'funding', 'balance', 'cancel', 'amend', 'instrument'];

const SCHEMAS = {
  Problem: obj(
    {
      type: { type: 'string', format: 'uri', description: '`https://utl.dev/problems/` and `code` in lower case with `-` for `_`.' },
      title: str('For people.'),
      status: int('The HTTP status.'),
      code: str('Stable: switch on this. Each response lists the codes it can carry.'),
      detail: str('For people; absent when there is nothing to add.'),
    },
    ['type', 'title', 'status', 'code'],
    'RFC 9457 problem details with a stable `code` (docs/api.md "Errors"). A client error found by the framework itself (fastify) keeps its status, has the title "Bad request" and the framework\'s code.',
  ),
  Decimal: {
    type: 'string',
    pattern: '^-?[0-9]+(\\.[0-9]+)?$',
    description: 'An exact decimal as a JSON string, at full precision (never a JSON number).',
    examples: ['0.8499', '-33747.3744'],
  },
  Timestamp: { type: 'string', format: 'date-time', description: 'ISO-8601 UTC with `Z`.', examples: ['2026-01-02T17:06:00Z'] },
  Name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}$', description: 'A book, venue or account name.' },
  Event: {
    type: 'object',
    required: ['type'],
    properties: {
      type: { type: 'string', enum: EVENT_TYPES },
      id: str('The event id (1-256 characters); derived for marks and balances when left out.'),
      ts: str('ISO-8601 with a zone.'),
      book: ref('Name'),
    },
    additionalProperties: true,
    description:
      'A canonical event (docs/events.md): a trade, price, transfer, deposit, withdrawal, funding, balance, cancel, amend or instrument, each with its own fields. ' +
      'The body is not validated as a whole: each event is validated on its own, and an invalid one is answered `rejected` in the results (200), with a code of docs/errors.md.',
    examples: [
      { type: 'trade', id: 'bn-1005', ts: '2026-01-02T17:06:00Z', book: 'mm', venue: 'binance', instrument: 'BTC/USDT', side: 'sell', qty: '0.1', price: '42710.5', fee: { asset: 'USDT', amount: '4.27105' } },
    ],
  },
  EventResult: obj(
    {
      index: int('Position in the request, from 0 (blank JSON Lines are not counted).'),
      id: nullable(str("The event's id, or null when not known (a line that does not parse).")),
      status: { type: 'string', enum: ['accepted', 'duplicate', 'rejected'] },
      code: str('`rejected` only: the rejection code (docs/errors.md).'),
      message: str('`rejected` only.'),
    },
    ['index', 'id', 'status'],
  ),
  SubmitResult: obj(
    {
      accepted: int('Events stored as new.'),
      duplicate: int('Repeats of a stored event (or of one earlier in the request): no-ops.'),
      rejected: int('Events refused: a validation code, or DUPLICATE_CONFLICT.'),
      results: arrayOf(ref('EventResult'), 'One per event, in input order.'),
    },
    undefined,
    'What happened to each event of a committed batch. `accepted` means in the log; a booking refusal (UNVALUED…) shows in GET /unbooked.',
  ),
  Lot: obj({
    qty: ref('Decimal'),
    cost: ref('Decimal'),
    acquired: str('When the lot was acquired (ISO-8601 UTC); "" for the one entry of a derivative position.'),
    seq: int('The `seq` of the event that opened it; 0 for a derivative position.'),
  }),
  Position: obj(
    {
      book: str('The book.'),
      asset: str('An asset code (spot) or an instrument symbol (derivatives).'),
      kind: { type: 'string', enum: ['spot', 'perpetual', 'future'] },
      venue: str('Derivatives (and spot pooled by venue): the venue of the position.'),
      method: str('The cost method: fifo, lifo, hifo, wac (derivatives: wac).'),
      qty: ref('Decimal'),
      costBasis: nullable(dec('Null only for a derivative whose value in the reporting currency is unknown.')),
      avgPrice: nullable(dec('Cost per unit (spot) or average entry price (derivatives), rounded: display only.')),
      mark: nullable(ref('Decimal')),
      value: nullable(dec('Null when unpriced.')),
      realizedPnl: ref('Decimal'),
      unrealizedPnl: nullable(ref('Decimal')),
      fees: ref('Decimal'),
      funding: ref('Decimal'),
      totalPnl: nullable(ref('Decimal')),
      byVenue: { type: 'object', additionalProperties: ref('Decimal'), description: 'Quantity per venue.' },
      lots: arrayOf(ref('Lot'), 'With `lots=1` only: the open lots.'),
    },
    ['book', 'asset', 'kind', 'method', 'qty', 'costBasis', 'avgPrice', 'mark', 'value', 'realizedPnl', 'unrealizedPnl', 'fees', 'funding', 'totalPnl', 'byVenue'],
    'As in `utl replay --json` (docs/cli.md "positions"). Decimals in the reporting currency unless said otherwise.',
  ),
  Positions: obj({
    asOf: nullable(ts('The `at` instant, canonical; null without `at`.')),
    reporting: str('The reporting currency.'),
    seq: int('The last `seq` booked (also with `at`).'),
    positions: arrayOf(ref('Position')),
  }),
  BookSummary: obj({
    book: str('The book.'),
    method: str('The cost method.'),
    fees: { type: 'string', enum: ['separate', 'capitalise'] },
    realizedPnl: ref('Decimal'),
    unrealizedPnl: nullable(dec('Null when a position is unpriced.')),
    feesPaid: ref('Decimal'),
    funding: ref('Decimal'),
    totalPnl: nullable(ref('Decimal')),
    unpriced: arrayOf({ type: 'string' }, 'The assets without a mark.'),
    booked: int('Events booked.'),
  }),
  Books: obj({ reporting: str('The reporting currency.'), seq: int('The last `seq` booked.'), books: arrayOf(ref('BookSummary')) }),
  ExposureLine: obj({ net: ref('Decimal'), gross: ref('Decimal') }),
  Exposure: obj({
    reporting: str('The reporting currency.'),
    firm: { allOf: [ref('ExposureLine'), obj({ unpriced: arrayOf({ type: 'string' }) })], description: "For a key restricted to some books: the total of those books, not the firm's." },
    byAsset: arrayOf(obj({ asset: str('The underlying asset.'), qty: ref('Decimal'), value: nullable(ref('Decimal')) })),
    byBook: arrayOf({ allOf: [obj({ book: str('The book.') }), ref('ExposureLine')] }),
    byVenue: arrayOf({ allOf: [obj({ venue: str('The venue.'), held: dec('Value of what sits at the venue, cash included.') }), ref('ExposureLine')] }),
  }),
  ExposureAnswer: obj({ seq: int('The last `seq` booked.'), exposure: ref('Exposure') }),
  Rejection: obj({
    id: str("The rejection's number, increasing in arrival order."),
    receivedAt: ts('When it was stored, with six fractional digits.'),
    source: str('`http`, `nats` or `recon`.'),
    ref: nullable(str('Where it came from: `http[<index>]`, or `<subject>#<stream sequence>`.')),
    eventId: nullable(str("The event's id, when known.")),
    code: str('The rejection code (docs/errors.md).'),
    message: str('Why.'),
    raw: str('The input as received, decoded as UTF-8.'),
  }),
  Rejections: obj({ items: arrayOf(ref('Rejection')), next: nullable(str('When the page is full: the `before` of the next page.')) }),
  Unbooked: obj(
    {
      book: str('The book; "" for an invalid correction (firm-wide).'),
      id: str('The event id.'),
      ts: str('ISO-8601 UTC; "" for an invalid correction.'),
      code: str('UNVALUED, INSUFFICIENT_QUANTITY, ORPHAN_CORRECTION, CORRECTION_TARGET_INVALID…'),
      message: str('Why.'),
    },
    undefined,
    'An event in the log its book could not book, or a correction that corrects nothing.',
  ),
  UnbookedList: obj({ seq: int('The last `seq` booked.'), items: arrayOf(ref('Unbooked')) }),
  ServiceStats: obj({
    booked: int('Events committed as new and booked.'),
    unbooked: int('Events committed that their book could not book.'),
    duplicates: int('Repeats with the same content.'),
    rejected: int('Inputs refused.'),
    batches: int('Batches booked.'),
    historyLoads: int("Times a late event made the service read a book's history."),
    lastSeq: int('The last `seq` booked.'),
    checkpoints: int('Checkpoints written.'),
    commitErrors: int('NATS batches whose commit failed.'),
  }),
  State: obj(
    {
      seq: int('The last `seq` booked.'),
      digest: str('SHA-256 of the state document, as `utl replay` computes it. Keys for every book only.'),
      stats: { ...ref('ServiceStats'), description: 'Counters since the process started. Keys for every book only.' },
    },
    ['seq'],
  ),
  LoggedEvent: obj({
    seq: int('Its place in the arrival order.'),
    ts: ts("The event's instant, canonical."),
    id: str('The event id.'),
    type: { type: 'string', enum: EVENT_TYPES },
    book: nullable(str('The book; null for marks, terms, corrections, venue-account reports.')),
    source: str('`http`, `nats` or `recon`.'),
    receivedAt: ts('When it arrived, with six fractional digits.'),
    event: { ...ref('Event'), description: 'The event as committed.' },
  }),
  EventLog: obj({ items: arrayOf(ref('LoggedEvent')), next: nullable(str('When the page is full: the `cursor` of the next page (opaque).')) }),
  Health: obj({ status: { type: 'string', const: 'ok' } }),
  Ready: obj({ status: { type: 'string', const: 'ready' }, seq: int('The last `seq` booked.') }),
  BreakHistoryEntry: obj(
    {
      atMs: int('Wall clock, epoch milliseconds.'),
      action: { type: 'string', enum: ['opened', 'updated', 'acknowledged', 'resolved', 'auto_resolved', 'late_report', 'adjustment_refused'] },
      reportId: str('The report that caused it.'),
      reportTs: ts("The report's instant."),
      venueQty: ref('Decimal'),
      utlQty: ref('Decimal'),
      diff: ref('Decimal'),
      by: str('Who acknowledged or resolved.'),
      note: str('Their note or reason.'),
      adjustment: str('The adjusting event booked.'),
    },
    ['atMs', 'action'],
  ),
  Suggestion: obj({
    cause: { type: 'string', enum: ['missing_at_venue', 'missing_in_utl', 'fee_in_other_asset', 'transfer_in_transit', 'funding_not_booked', 'stale_snapshot'] },
    message: str('For people.'),
    events: arrayOf({ type: 'string' }, 'The events (or venue trades) it rests on.'),
  }),
  Explanation: obj({
    sinceTs: nullable(ts('The last report of the cell that agreed; movements are listed after it.')),
    complete: { type: 'boolean', description: "False when the books' windows start after `sinceTs`." },
    movements: arrayOf(obj({ id: str('Event id.'), type: str('Event type.'), ts: ref('Timestamp'), book: str('The book.'), delta: ref('Decimal') }), 'The latest movements.'),
    count: int('How many movements there were, listed or not.'),
    net: dec('The sum of every movement.'),
    suggestions: arrayOf(ref('Suggestion')),
  }),
  Break: obj(
    {
      id: str('`brk:<report id>` of the report that opened it.'),
      venue: str('The venue.'),
      account: str('The account.'),
      asset: str('The asset.'),
      book: nullable(str('Null: the report named no book (a venue account shared by every book there).')),
      status: { type: 'string', enum: ['open', 'acknowledged', 'resolved', 'auto_resolved'] },
      firstSeenMs: int('Wall clock when UTL first saw it (epoch ms): the age counts from here.'),
      firstReportTs: ts('The instant of the report that opened it.'),
      lastReportId: str('The latest report taken.'),
      lastReportTs: ref('Timestamp'),
      updatedMs: int('Wall clock of the last change (epoch ms).'),
      venueQty: dec('What the venue reported.'),
      utlQty: dec("UTL's balance as of the report's instant."),
      diff: dec('venueQty − utlQty.'),
      value: nullable(dec('|diff| at the latest mark, in the reporting currency; null when unpriced.')),
      reporting: str('The reporting currency.'),
      tolerance: obj({ abs: ref('Decimal'), rel: ref('Decimal') }),
      explanation: ref('Explanation'),
      history: arrayOf(ref('BreakHistoryEntry')),
      resolution: nullable(obj({ by: str('Who.'), reason: str('Why.'), atMs: int('Epoch ms.'), adjustment: nullable(str('The adjusting event, if any.')) })),
      ageMs: int('Milliseconds since `firstSeenMs`, when answered.'),
    },
    undefined,
    'A reconciliation break (docs/reconciliation.md "Breaks").',
  ),
  Breaks: obj({ total: int('Breaks that match, before `limit`.'), reporting: str('The reporting currency.'), items: arrayOf(ref('Break'), 'Newest first.') }),
  TradeLine: obj({
    venueTradeId: str("The venue's trade id."),
    id: str('The event id.'),
    ts: ref('Timestamp'),
    account: str('The account.'),
    instrument: str('The instrument.'),
    side: str('buy or sell.'),
    qty: ref('Decimal'),
    price: ref('Decimal'),
    fees: arrayOf(obj({ asset: str('Fee asset.'), amount: ref('Decimal') })),
  }),
  TradeRecon: obj({
    venue: str('The venue.'),
    window: obj({ from: nullable(ref('Timestamp')), to: nullable(ref('Timestamp')) }),
    venueTrades: int('Trades in the venue history.'),
    utlTrades: int('Fills booked at the venue in the window.'),
    matched: int('Matched by venue trade id.'),
    missingInUtl: arrayOf(ref('TradeLine')),
    missingAtVenue: arrayOf(ref('TradeLine')),
    mismatches: arrayOf(
      obj({
        venueTradeId: str('The venue trade id.'),
        utlId: str('The booked event.'),
        venueId: str("The venue's event."),
        field: { type: 'string', enum: ['side', 'instrument', 'qty', 'price', 'fee', 'ts'] },
        utl: str("UTL's value."),
        venue: str("The venue's value."),
      }),
    ),
    duplicates: arrayOf(obj({ side: { type: 'string', enum: ['venue', 'utl'] }, venueTradeId: str('The venue trade id.'), ids: arrayOf({ type: 'string' }) })),
    ok: { type: 'boolean' },
  }),
  UnmatchedFlow: obj({ id: str('Event id.'), book: str('The book.'), venue: str('The venue.'), asset: str('The asset.'), qty: ref('Decimal'), ts: ref('Timestamp'), ageSeconds: ref('Decimal') }),
  TransferRecon: obj({
    matched: arrayOf(
      obj({
        withdrawal: str('Withdrawal id.'),
        deposit: str('Deposit id.'),
        asset: str('The asset.'),
        from: str('Sending venue.'),
        to: str('Receiving venue.'),
        sent: ref('Decimal'),
        received: ref('Decimal'),
        fee: dec('sent − received.'),
        transitSeconds: ref('Decimal'),
      }),
    ),
    inTransit: arrayOf(ref('UnmatchedFlow')),
    breaks: arrayOf(ref('UnmatchedFlow'), 'Withdrawals unmatched for longer than the transit allowance.'),
    unmatchedDeposits: arrayOf(ref('UnmatchedFlow')),
  }),
  CheckResult: obj({
    name: { type: 'string', enum: ['flows', 'lots', 'balances', 'negative_balances', 'accounted'] },
    ok: { type: 'boolean' },
    detail: str('What was checked.'),
    failures: arrayOf({ type: 'string' }, 'The first failures (at most 50), each a sentence.'),
  }),
  Checks: obj({ ok: { type: 'boolean' }, checkedAt: ts('When they last ran, with milliseconds.'), checks: arrayOf(ref('CheckResult')) }),
  AuditEntry: obj({
    id: str('Increasing.'),
    at: ts("The database's clock, six fractional digits."),
    actor: str("The API key's name, or the `by` given (`anonymous` with auth off)."),
    action: str('events.post, recon.balances, break.acknowledge, break.resolve.'),
    target: str('A break id, an Idempotency-Key, `http`, `<venue>/<account>`.'),
    detail: { description: 'What was done (counts, note, reason, adjustment).' },
  }),
  Audit: obj({ items: arrayOf(ref('AuditEntry'), 'Newest first.') }),
  Alert: obj({
    rule: str('The rule name.'),
    ruleKind: str('break_age, break_value, stale_source, stale_mark, consumer_lag, rejected_rate, exposure_limit, drawdown, check_failed.'),
    key: str('What the alert is about within its rule (an asset, a book…).'),
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    severity: { type: 'string', enum: ['info', 'warning', 'critical'] },
    status: { type: 'string', enum: ['pending', 'firing'] },
    summary: str('For people.'),
    value: nullable(str('The measured value, as text.')),
    threshold: nullable(str('The threshold, as text.')),
    activeSince: ts('Since when the condition holds.'),
    firedAt: nullable(ref('Timestamp')),
    lastSentAt: nullable(ref('Timestamp')),
  }),
  Alerts: obj({ firing: int('Alerts firing.'), pending: int('Alerts pending.'), items: arrayOf(ref('Alert'), 'Firing first, then by severity.') }),
  AlertDocument: obj({
    kind: { type: 'string', enum: ['firing', 'repeat', 'resolved'] },
    rule: str('The rule name.'),
    ruleKind: str('The rule kind.'),
    key: str('The alert key.'),
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    severity: { type: 'string', enum: ['info', 'warning', 'critical'] },
    summary: str('For people.'),
    value: nullable({ type: 'string' }),
    threshold: nullable({ type: 'string' }),
    at: ts('When it was sent.'),
    atMs: int('The same, epoch ms.'),
    activeSince: ref('Timestamp'),
    firedAt: ref('Timestamp'),
    resolvedAt: nullable(ref('Timestamp')),
  }),
  AlertHistory: obj({
    items: arrayOf(obj({ id: str('Increasing.'), at: ref('Timestamp'), alert: ref('AlertDocument') }), 'Newest first.'),
    next: nullable(str('The `before` of the next page; null on the last.')),
  }),
  Balance: obj({ book: str('The book.'), venue: str('The venue.'), account: str('The account at the venue.'), asset: str('The asset.'), qty: ref('Decimal') }),
  Balances: obj({ asOf: nullable(ts('The `at` instant, canonical; null without `at`.')), seq: int('The last `seq` booked.'), balances: arrayOf(ref('Balance'), 'Zero balances left out.') }),
  PnlFigures: obj(
    {
      realized: ref('Decimal'),
      unrealized: nullable(dec('Null when unpriced at either end of the period.')),
      fees: ref('Decimal'),
      funding: ref('Decimal'),
      total: nullable(dec('Null when unpriced at either end of the period.')),
    },
    undefined,
    'The change of each cumulative figure over the period (inception: the figures themselves).',
  ),
  PeriodFigures: obj({ today: ref('PnlFigures'), mtd: ref('PnlFigures'), ytd: ref('PnlFigures'), inception: ref('PnlFigures') }),
  Baseline: obj(
    {
      from: ts('The first instant of the period.'),
      source: { type: 'string', enum: ['snapshot', 'replay', 'none'], description: '`snapshot`: the EOD snapshot of the day before; `replay`: the state rebuilt as of `from`; `none`: nothing was booked before.' },
      day: str('`snapshot` only: the day of the EOD snapshot (YYYY-MM-DD).'),
      takenAt: str('`snapshot` only: when it was taken.'),
    },
    ['from', 'source'],
    'Where the state before the period came from.',
  ),
  Pnl: obj({
    seq: int('The last `seq` booked.'),
    at: ref('Timestamp'),
    reporting: str('The reporting currency.'),
    periods: obj({ today: ref('Baseline'), mtd: ref('Baseline'), ytd: ref('Baseline'), inception: obj({ from: { type: 'null' } }) }),
    books: arrayOf(obj({ book: str('The book.'), periods: ref('PeriodFigures') })),
    positions: arrayOf(
      obj(
        { book: str('The book.'), asset: str('The asset or instrument.'), kind: { type: 'string', enum: ['spot', 'perpetual', 'future'] }, venue: str('Derivatives: the venue.'), qty: dec('The quantity at the end.'), periods: ref('PeriodFigures') },
        ['book', 'asset', 'kind', 'qty', 'periods'],
      ),
    ),
  }),
  SnapshotDay: obj(
    { day: { type: 'string', format: 'date' }, asOf: ts("The day's last instant."), takenAt: str('When it was taken (UTC, milliseconds).'), books: int('Books in it: only for a key that sees every book.') },
    ['day', 'asOf', 'takenAt'],
  ),
  Snapshots: obj({
    lastClosedDay: { type: 'string', format: 'date', description: 'The latest day whose snapshot is due (closed, and the delay passed).' },
    items: arrayOf(ref('SnapshotDay'), 'Newest first.'),
    next: nullable({ type: 'string', format: 'date', description: 'The `before` of the next page.' }),
  }),
  VenueBalance: obj({
    venue: str('The venue.'),
    account: str('The account.'),
    asset: str('The asset.'),
    book: nullable(str('The book the report names; null: the venue account as a whole.')),
    ts: ref('Timestamp'),
    total: ref('Decimal'),
    free: nullable(ref('Decimal')),
    used: nullable(ref('Decimal')),
  }),
  DaySnapshot: obj(
    {
      type: { type: 'string', enum: ['eod', 'sod'] },
      sodOf: { type: 'string', format: 'date', description: '`type=sod` only: the day whose start this is.' },
      day: { type: 'string', format: 'date', description: 'The day of the EOD snapshot shown.' },
      asOf: ts("The day's last instant."),
      takenAt: str('When it was taken.'),
      reporting: str('The reporting currency.'),
      books: arrayOf(ref('BookSummary')),
      positions: arrayOf(ref('Position'), 'Flat ones included; lots only with `lots=1`.'),
      balances: arrayOf(ref('Balance')),
      exposure: ref('Exposure'),
      venueBalances: arrayOf(ref('VenueBalance'), "The venues' latest reports as of the day's end."),
    },
    ['type', 'day', 'asOf', 'takenAt', 'reporting', 'books', 'positions', 'balances'],
    'The firm-wide `exposure` and `venueBalances` only for a key that sees every book, asking for no `book`.',
  ),
  SnapshotTaken: obj({ day: { type: 'string', format: 'date' }, asOf: ref('Timestamp'), takenAt: str('When.'), books: int('Books in it.'), retaken: { type: 'boolean', description: 'It replaced a snapshot of the same day.' } }),
  PositionsExport: obj({ asOf: ref('Timestamp'), reporting: str('The reporting currency.'), positions: arrayOf(ref('Position')) }),
  LotsExport: obj({
    asOf: ref('Timestamp'),
    reporting: str('The reporting currency.'),
    lots: arrayOf(
      obj(
        {
          book: str('The book.'),
          asset: str('The asset.'),
          kind: { type: 'string', enum: ['spot', 'perpetual', 'future'] },
          venue: str('Derivatives (and spot pooled by venue): the venue.'),
          method: str('The cost method.'),
          lot: int('The `seq` of the event that opened the lot.'),
          acquired: str('When the lot was acquired.'),
          qty: ref('Decimal'),
          cost: dec('Its cost basis, in the reporting currency.'),
          unitCost: nullable(dec('cost / qty, rounded half-even to 8 places (display only).')),
        },
        ['book', 'asset', 'kind', 'method', 'lot', 'acquired', 'qty', 'cost', 'unitCost'],
      ),
    ),
  }),
  PnlExport: obj({
    from: ref('Timestamp'),
    to: ref('Timestamp'),
    baseline: ref('Baseline'),
    reporting: str('The reporting currency.'),
    books: arrayOf({ allOf: [obj({ book: str('The book.') }), ref('PnlFigures')] }),
    positions: arrayOf({
      allOf: [obj({ book: str('The book.'), asset: str('The asset.'), kind: { type: 'string', enum: ['spot', 'perpetual', 'future'] }, venue: str('The venue.'), qty: ref('Decimal') }, ['book', 'asset', 'kind', 'qty']), ref('PnlFigures')],
    }),
  }),
} satisfies { readonly [name: string]: Schema };

// ---- building blocks of routes ----

const query = (name: string, description: string, schema: Schema = { type: 'string' }): Parameter => ({ name, in: 'query', description, schema });
const pathParam = (name: string, description: string): Parameter => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const limit = (max: number, byDefault: number): Parameter =>
  query('limit', `Items at most: a whole number from 1 to ${max} (else 400 BAD_QUERY).`, { type: 'integer', minimum: 1, maximum: max, default: byDefault });
const before = query('before', 'The `next` of the previous page (a whole number).', { type: 'string', pattern: '^[0-9]{1,18}$' });
const bookParam = query('book', 'Only these books: one name, or several separated by commas. A restricted key may name only its own (else 403); without it, it gets its own.');
const ok = (schema: string, description: string, example?: Json): { '200': Response } => ({
  '200': { description, content: { 'application/json': { schema: ref(schema), ...(example === undefined ? {} : { example }) } } },
});
const jsonBody = (schema: Schema, description: string, example: Json): RequestBody => ({ description, required: true, content: { 'application/json': { schema, example } } });
const p = (status: number, code: string, when: string): ProblemDoc => ({ status, code, when });
const twice = p(400, 'BAD_QUERY', 'a query parameter is given twice');
const badLimit = p(400, 'BAD_QUERY', '`limit` or `before` is not a whole number in range');
const otherBook = p(403, 'FORBIDDEN', 'a restricted key names a book it may not see');
const notJsonObject = p(400, 'BAD_BODY', 'the body is not a JSON object, or a field is missing or malformed (`detail` names it)');

// ---- the routes, by area ----

const EVENTS: Area = {
  '/events': {
    post: {
      operationId: 'postEvents',
      summary: 'Commit and book a batch of events',
      tag: 'events',
      description:
        'One request is one batch, through the same single writer as NATS: validated, committed in one transaction, booked, then answered (a read after the answer sees it). ' +
        'The `Content-Type` decides how the body is read: one containing `ndjson` or `jsonl`, or starting with `text/plain`, is JSON Lines (one event per non-blank line); anything else is one JSON document: an array of events, `{"events": [...]}` or one event. ' +
        'A restricted key may post only events of its books: one of another book, one without a book, or a correction refuses the whole request (403, nothing stored).',
      parameters: [
        { name: 'Idempotency-Key', in: 'header', description: 'Optional, at most 200 characters: a repeat with the same body gets the stored answer (with `Idempotent-Replayed: true`); another body, 422.', schema: { type: 'string', maxLength: 200 } },
      ],
      requestBody: {
        description: 'Canonical events (docs/events.md).',
        required: true,
        content: {
          'application/json': {
            schema: { oneOf: [arrayOf(ref('Event')), obj({ events: arrayOf(ref('Event')) }), ref('Event')] },
            example: [
              { type: 'price', ts: '2026-01-02T17:05:00Z', asset: 'BTC', quote: 'USD', price: '42700' },
              { type: 'trade', id: 'bn-1005', ts: '2026-01-02T17:06:00Z', book: 'mm', venue: 'binance', instrument: 'BTC/USDT', side: 'sell', qty: '0.1', price: '42710.5', fee: { asset: 'USDT', amount: '4.27105' } },
            ],
          },
          'application/x-ndjson': { schema: { type: 'string', description: 'JSON Lines: one event per line.' } },
          'application/jsonl': { schema: { type: 'string', description: 'JSON Lines: one event per line.' } },
          'text/plain': { schema: { type: 'string', description: 'JSON Lines: one event per line.' } },
        },
      },
      responses: {
        '200': {
          description: 'Committed and booked, whatever happened to each event (a refused event is `rejected` in `results`, not an HTTP error).',
          headers: { 'Idempotent-Replayed': { description: '`true` when this is the stored answer of an earlier request with the same Idempotency-Key.', schema: { type: 'string', const: 'true' } } },
          content: {
            'application/json': {
              schema: ref('SubmitResult'),
              example: { accepted: 2, duplicate: 0, rejected: 0, results: [{ index: 0, id: 'price:BTC/USD@2026-01-02T17:05:00Z', status: 'accepted' }, { index: 1, id: 'bn-1005', status: 'accepted' }] },
            },
          },
        },
      },
      problems: [
        p(400, 'BAD_BODY', 'the body is not JSON, or is JSON but not an array, `{"events": [...]}` or an object'),
        p(400, 'BAD_IDEMPOTENCY_KEY', '`Idempotency-Key` is longer than 200 characters'),
        p(403, 'FORBIDDEN', 'a restricted key posts an event of another book, one without a book, or a correction: nothing is stored'),
        p(413, 'TOO_MANY_EVENTS', 'more than 10,000 events'),
        p(422, 'IDEMPOTENCY_KEY_REUSED', 'the key was used before with another body'),
        p(503, 'STORE_UNAVAILABLE', 'the store did not commit the batch: nothing was stored; retry with the same Idempotency-Key'),
      ],
    },
    get: {
      operationId: 'getEvents',
      summary: 'Search the event log',
      tag: 'events',
      description:
        'The event log, newest first (by `ts`, then arrival), with cursor paging; only booked events. A restricted key sees only its books\' events (none without a book).',
      parameters: [
        bookParam,
        query('venue', "Only events at this venue (also a transfer's `from` or `to`)."),
        query('asset', "Only events of this asset (an event's `asset`, or the base or quote of its instrument)."),
        query('id', 'Only the event with this id.'),
        query('type', 'Only events of this type.', { type: 'string', enum: EVENT_TYPES }),
        query('from', 'Only events at or after this instant (ISO-8601).', { type: 'string', format: 'date-time' }),
        query('to', 'Only events at or before this instant (ISO-8601).', { type: 'string', format: 'date-time' }),
        limit(1000, 100),
        query('cursor', 'The `next` of the previous page (opaque).'),
      ],
      responses: ok('EventLog', 'A page of events.'),
      problems: [p(400, 'BAD_QUERY', 'a parameter is given twice; `limit` is out of range; `type` is unknown; `cursor` is not a `next`'), p(400, 'BAD_TIMESTAMP', '`from` or `to` is not a timestamp'), otherBook],
    },
  },
};

const STATE: Area = {
  '/positions': {
    get: {
      operationId: 'getPositions',
      summary: 'Positions, now or as of an instant',
      tag: 'state',
      description: 'Without `at`, from the state in memory; with `at`, each book is rebuilt from the store as of that instant. An unknown book gives an empty list.',
      parameters: [
        bookParam,
        query('asset', 'Only positions whose `asset` is exactly this (`BTC` does not include BTC derivatives).'),
        query('venue', 'Only positions with a quantity at this venue.'),
        query('at', 'The state as of this instant (ISO-8601; write `+` as `%2B`).', { type: 'string', format: 'date-time' }),
        query('lots', 'Add each position\'s open lots.', { type: 'string', enum: ['1', 'true', '0', 'false'] }),
      ],
      responses: ok('Positions', 'The positions.'),
      problems: [p(400, 'BAD_QUERY', 'a parameter is given twice; `lots` is not true/1/false/0'), p(400, 'BAD_TIMESTAMP', '`at` is not a timestamp'), otherBook],
    },
  },
  '/books': {
    get: {
      operationId: 'getBooks',
      summary: 'One summary per book',
      tag: 'state',
      description: "Every book that booked or refused anything; a restricted key's own books only.",
      responses: ok('Books', 'The books.'),
    },
  },
  '/exposure': {
    get: {
      operationId: 'getExposure',
      summary: 'Exposure by asset, book and venue',
      tag: 'state',
      description: "For a restricted key, computed from its books only (the `firm` line is then the total of those books).",
      responses: ok('ExposureAnswer', 'The exposure.'),
    },
  },
  '/rejected': {
    get: {
      operationId: 'getRejected',
      summary: 'Stored rejections, newest first',
      tag: 'state',
      description:
        'Inputs refused at validation (HTTP, NATS, recon) and conflicting repeats, with their raw text. A restricted key sees those whose raw event names one of its books, reading at most 5,000 per request (`next` resumes).',
      parameters: [limit(1000, 100), before],
      responses: ok('Rejections', 'A page of rejections.'),
      problems: [badLimit],
    },
  },
  '/unbooked': {
    get: {
      operationId: 'getUnbooked',
      summary: 'Events their book could not book',
      tag: 'state',
      description: 'UNVALUED, INSUFFICIENT_QUANTITY…, and corrections that correct nothing (those only for a key for every book).',
      responses: ok('UnbookedList', 'The unbooked events.'),
    },
  },
  '/state': {
    get: {
      operationId: 'getState',
      summary: 'Last seq, state digest, counters',
      tag: 'state',
      description: 'The digest equals `utl replay --json`\'s on the same events. A restricted key gets `seq` only.',
      responses: ok('State', 'The state.'),
    },
  },
};

const OPERATIONS: Area = {
  '/healthz': {
    get: { operationId: 'getHealthz', summary: 'Liveness', tag: 'operations', description: 'While the process serves HTTP. Checks nothing else.', responses: ok('Health', 'Alive.', { status: 'ok' }) },
  },
  '/readyz': {
    get: {
      operationId: 'getReadyz',
      summary: 'Readiness',
      tag: 'operations',
      description: 'Ready when the state is restored and the store answers.',
      responses: ok('Ready', 'Ready.', { status: 'ready', seq: 38 }),
      problems: [p(503, 'NOT_READY', 'the state is being restored'), p(503, 'STORE_UNREACHABLE', 'the store does not answer')],
    },
  },
  '/metrics': {
    get: {
      operationId: 'getMetrics',
      summary: 'Prometheus metrics',
      tag: 'operations',
      description: 'The Prometheus text format (docs/api.md "GET /metrics"). Served when the server has metrics, as under `utl start`.',
      responses: { '200': { description: 'The metrics.', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  },
};

const RECON: Area = {
  '/breaks': {
    get: {
      operationId: 'listBreaks',
      summary: 'Reconciliation breaks',
      tag: 'reconciliation',
      description: 'Newest first. A restricted key sees its books\' breaks only (not those of a venue account shared by books).',
      parameters: [
        query('status', '`active` is open or acknowledged.', { type: 'string', enum: ['active', 'open', 'acknowledged', 'resolved', 'auto_resolved', 'all'], default: 'active' }),
        query('venue', 'Only breaks of this venue.'),
        query('asset', 'Only breaks of this asset.'),
        limit(10_000, 500),
      ],
      responses: ok('Breaks', 'The breaks.'),
      problems: [p(400, 'BAD_QUERY', 'a parameter is given twice; `status` is not one of its values; `limit` is out of range')],
    },
  },
  '/breaks/{id}': {
    get: {
      operationId: 'getBreak',
      summary: 'One break',
      tag: 'reconciliation',
      description: 'With its explanation and history.',
      parameters: [pathParam('id', 'The break id (`brk:…`).')],
      responses: ok('Break', 'The break.'),
      problems: [p(404, 'BREAK_NOT_FOUND', 'no break with that id, or one the key may not see')],
    },
  },
  '/breaks/{id}/acknowledge': {
    post: {
      operationId: 'acknowledgeBreak',
      summary: 'Acknowledge a break',
      tag: 'reconciliation',
      description: 'Marks an active break `acknowledged` (it stays active). Audited. The body is read as JSON whatever its `Content-Type`; at most 64 KiB.',
      parameters: [pathParam('id', 'The break id.')],
      requestBody: jsonBody(
        obj(
          {
            by: { ...ref('Name'), description: "Who: required with auth off; with a key, its name (left out, or equal to it)." },
            note: str('Cut at 2,000 characters.'),
          },
          [],
        ),
        'Who, and a note.',
        { by: 'alice', note: 'BNB fee discount? asking binance' },
      ),
      responses: ok('Break', 'The break, acknowledged.'),
      problems: [
        p(400, 'BAD_BODY', 'the body is not a JSON object; `by` is missing or not a name'),
        p(403, 'FORBIDDEN', "`by` is not the API key's name"),
        p(404, 'BREAK_NOT_FOUND', 'no such break, or one the key may not see'),
        p(409, 'BREAK_CLOSED', 'the break is resolved or auto_resolved'),
      ],
    },
  },
  '/breaks/{id}/resolve': {
    post: {
      operationId: 'resolveBreak',
      summary: 'Resolve a break',
      tag: 'reconciliation',
      description:
        'Closes an active break by hand, with who and why, optionally booking an adjusting deposit or withdrawal of |diff| first (id `adj:<break id>`, through the same commit path as POST /events). Audited. At most 64 KiB.',
      parameters: [pathParam('id', 'The break id.')],
      requestBody: jsonBody(
        obj(
          {
            by: { ...ref('Name'), description: "Who: required with auth off; with a key, its name (left out, or equal to it)." },
            reason: str('Required, not blank; cut at 2,000 characters.'),
            adjust: {
              description: "`true`, or which book takes the entry and its total cost in the reporting currency (default: the break's book, at the mark). A restricted key must name one of its books.",
              oneOf: [{ type: 'boolean' }, obj({ book: ref('Name'), cost: ref('Decimal') }, [])],
            },
          },
          ['reason'],
        ),
        'Who, why, and the adjustment if any.',
        { by: 'alice', reason: 'binance charged the 5003 fee in BNB; UTL booked it in USDT', adjust: { book: 'mm' } },
      ),
      responses: ok('Break', 'The break, resolved.'),
      problems: [
        p(400, 'BAD_BODY', 'the body is not a JSON object; `by` missing or not a name; `reason` missing or blank; `adjust` not true/false/an object; `adjust.book` not a name; `adjust.cost` not a string'),
        p(403, 'FORBIDDEN', "`by` is not the API key's name; a restricted key's adjustment does not name one of its books"),
        p(404, 'BREAK_NOT_FOUND', 'no such break, or one the key may not see'),
        p(409, 'BREAK_CLOSED', 'the break is resolved or auto_resolved'),
        p(409, 'BREAK_BUSY', 'another resolve of the break is in progress'),
        p(422, 'ADJUSTMENT_NEEDS_BOOK', '`adjust` without `book` on a break that has none'),
        p(422, 'ADJUSTMENT_REFUSED', 'the adjusting entry was rejected, or committed but not bookable (then cancelled): the break stays open'),
      ],
    },
  },
  '/recon/balances': {
    post: {
      operationId: 'postReconBalances',
      summary: 'Book a ccxt fetchBalance result',
      tag: 'reconciliation',
      description: 'Mapped to one `balance` event per asset, submitted like POST /events (source `recon`), then reconciled.',
      requestBody: jsonBody(
        obj(
          {
            venue: ref('Name'),
            account: { ...ref('Name'), description: 'Default `default`.' },
            book: { ...ref('Name'), description: 'Without it, the report is of the venue account, shared by every book there.' },
            asOf: ts('The instant of a balance without `timestamp`.'),
            balance: { type: 'object', description: 'The ccxt `fetchBalance()` result.' },
          },
          ['venue', 'balance'],
        ),
        'The venue and its balance.',
        { venue: 'binance', account: 'main', balance: { timestamp: 1767354000000, BTC: { free: 1.25, used: 0.25, total: 1.5 }, total: { BTC: 1.5 } } },
      ),
      responses: ok('SubmitResult', 'The balance events, as POST /events answers.'),
      problems: [notJsonObject, p(400, 'BAD_TIMESTAMP', '`asOf` is not a timestamp'), p(422, 'BAD_BALANCE', 'the ccxt object has no currency, or an entry that does not map')],
    },
  },
  '/recon/trades': {
    post: {
      operationId: 'postReconTrades',
      summary: "A venue's trade history against the fills booked there",
      tag: 'reconciliation',
      description: 'Matched by venue trade id. The result is also kept as evidence for the breaks\' `missing_in_utl` suggestion.',
      requestBody: jsonBody(
        obj(
          {
            venue: ref('Name'),
            trades: arrayOf({ type: 'object' }, 'Canonical trade events (without `book` they get `recon`), or ccxt `fetchMyTrades()` records.'),
            from: ts('The window start, inclusive (default: the first venue trade).'),
            to: ts('The window end, inclusive (default: the last venue trade).'),
            book: str('The book given to ccxt records; not compared.'),
          },
          ['venue', 'trades'],
        ),
        'The venue and its trades.',
        { venue: 'binance', trades: [{ type: 'trade', id: 'binance:5005', ts: '2026-03-02T11:40:00Z', venue: 'binance', instrument: 'BTC/USDT', side: 'sell', qty: '0.1', price: '61100' }] },
      ),
      responses: ok('TradeRecon', 'The comparison.'),
      problems: [
        p(400, 'BAD_BODY', 'the body is not a JSON object; `venue` missing or not a name; `trades` not a list'),
        p(400, 'BAD_TIMESTAMP', '`from` or `to` is not a timestamp'),
        p(422, 'BAD_TRADES', 'ccxt records that do not map, or trades that do not validate or are not trades'),
      ],
    },
  },
  '/recon/transfers': {
    get: {
      operationId: 'getReconTransfers',
      summary: 'Withdrawals matched to deposits',
      tag: 'reconciliation',
      description: 'Over the booked deposits and withdrawals with `from <= ts <= until`; ages count to the wall clock.',
      parameters: [query('from', 'Start, inclusive (ISO-8601).', { type: 'string', format: 'date-time' }), query('until', 'End, inclusive (ISO-8601).', { type: 'string', format: 'date-time' })],
      responses: ok('TransferRecon', 'Matched, in transit, overdue.'),
      problems: [twice, p(400, 'BAD_TIMESTAMP', '`from` or `until` is not a timestamp')],
    },
  },
  '/checks': {
    get: {
      operationId: 'getChecks',
      summary: 'The consistency checks',
      tag: 'reconciliation',
      description: 'The latest run; `run=1` runs them now and waits (so does the first request if none has run); `run=full` over every event held and the whole log.',
      parameters: [query('run', '`1` or `true`: run now (what came since the last run); `full`: run now over everything.', { type: 'string', enum: ['1', 'true', 'full'] })],
      responses: ok('Checks', 'The checks.'),
    },
  },
  '/audit': {
    get: {
      operationId: 'getAudit',
      summary: 'Who did what',
      tag: 'reconciliation',
      description: 'Every audited write, newest first (utl_audit).',
      parameters: [query('target', 'Only entries of this target (a break id…).'), limit(1000, 100)],
      responses: ok('Audit', 'The audit trail.'),
      problems: [p(400, 'BAD_QUERY', 'a parameter is given twice; `limit` is out of range')],
    },
  },
};

const ALERTS: Area = {
  '/alerts': {
    get: { operationId: 'getAlerts', summary: 'Alerts pending or firing', tag: 'alerts', description: 'Firing first, then by severity (docs/alerts.md).', responses: ok('Alerts', 'The alerts.') },
  },
  '/alerts/history': {
    get: {
      operationId: 'getAlertHistory',
      summary: 'Notifications sent',
      tag: 'alerts',
      description: 'firing, repeat and resolved notifications, newest first, with the document the sinks received.',
      parameters: [limit(1000, 100), before],
      responses: ok('AlertHistory', 'A page of notifications.'),
      problems: [badLimit],
    },
  },
};

const LIVE: Area = {
  '/ws': {
    get: {
      operationId: 'openWebSocket',
      summary: 'The live WebSocket API',
      tag: 'live',
      description:
        'Upgrades to a WebSocket streaming each subscribed book\'s positions and PnL: a snapshot, then sequenced deltas (JSON text frames; protocol in docs/api.md "WebSocket"). ' +
        'Client frames: `{"op":"subscribe","books":[…]|"*"}`, `unsubscribe`, `resync`, `ping`. Server frames: `snapshot`, `delta`, `heartbeat`, `pong`, `unsubscribed`, `error`.',
      parameters: [query('token', 'The API key, for clients that cannot set headers (browsers).')],
      responses: {
        '101': { description: 'Switching protocols: the WebSocket is open.' },
        '404': { description: 'A request that is not a WebSocket upgrade (empty body).' },
      },
      problems: [p(401, 'UNAUTHORIZED', "the WebSocket plugin's own check refused the key (a server built with `wsRoutes(hub, { auth })` without the API-key hook)")],
      alsoSecurity: ['token'],
    },
  },
};

const DASHBOARD: Area = {
  '/': {
    get: { operationId: 'getDashboard', summary: 'The dashboard page', tag: 'dashboard', description: 'ui/index.html. No data in it.', responses: { '200': { description: 'The page.', content: { 'text/html': { schema: { type: 'string' } } } } } },
  },
  '/ui/app.js': {
    get: { operationId: 'getDashboardScript', summary: "The dashboard's script", tag: 'dashboard', description: 'ui/app.js.', responses: { '200': { description: 'The module.', content: { 'text/javascript': { schema: { type: 'string' } } } } } },
  },
  '/ui/app.css': {
    get: { operationId: 'getDashboardStyles', summary: "The dashboard's stylesheet", tag: 'dashboard', description: 'ui/app.css.', responses: { '200': { description: 'The stylesheet.', content: { 'text/css': { schema: { type: 'string' } } } } } },
  },
};

const atParam = query('at', 'As of this instant (ISO-8601; write `+` as `%2B`).', { type: 'string', format: 'date-time' });
const badAt = p(400, 'BAD_TIMESTAMP', 'a time parameter is not a timestamp');
const badDay = p(400, 'BAD_DAY', 'the day is not YYYY-MM-DD, or does not exist');

const REPORTS: Area = {
  '/balances': {
    get: {
      operationId: 'getBalances',
      summary: "UTL's balances per book, venue, account and asset",
      tag: 'reports',
      description: 'Now, or as of `at` (rebuilt from the store). What venues report is in the breaks and the snapshots.',
      parameters: [bookParam, query('venue', 'Only this venue.'), query('account', 'Only this account.'), query('asset', 'Only this asset.'), atParam],
      responses: ok('Balances', 'The balances.'),
      problems: [twice, badAt, otherBook],
    },
  },
  '/pnl': {
    get: {
      operationId: 'getPnl',
      summary: 'PnL of today (vs the start-of-day snapshot), MTD, YTD and inception',
      tag: 'reports',
      description:
        'Per book and per position: the change of realized, unrealized, fees, funding and total over each UTC period ending at `at` (default now). ' +
        "The state before today is yesterday's end-of-day snapshot when it was taken (frozen: a late event for yesterday shows in today), else rebuilt as of the boundary; `periods.<p>.source` says which.",
      parameters: [bookParam, query('asset', 'Only positions of this asset (book lines stay whole).'), query('at', 'The end of the periods (default: now).', { type: 'string', format: 'date-time' })],
      responses: ok('Pnl', 'The PnL of each period.'),
      problems: [twice, badAt, otherBook],
    },
  },
  '/snapshots': {
    get: {
      operationId: 'listSnapshots',
      summary: 'The end-of-day snapshots taken',
      tag: 'reports',
      description: "Newest first. The service takes each UTC day's snapshot `--eod-delay-s` (60) seconds after it closes.",
      parameters: [limit(1000, 100), query('before', 'Only days before this one: the `next` of the previous page.', { type: 'string', format: 'date' })],
      responses: ok('Snapshots', 'The days.'),
      problems: [badLimit, p(400, 'BAD_QUERY', '`before` is not a day')],
    },
    post: {
      operationId: 'takeSnapshot',
      summary: "Take (or retake) a closed day's end-of-day snapshot",
      tag: 'reports',
      description: 'Replaces the stored snapshot of the day, if any, in one transaction; audited as `snapshot.take` or `snapshot.retake`.',
      requestBody: jsonBody(obj({ day: { type: 'string', format: 'date' } }), 'The day.', { day: '2026-01-02' }),
      responses: { '201': { description: 'Taken.', content: { 'application/json': { schema: ref('SnapshotTaken') } } } },
      problems: [p(400, 'BAD_BODY', 'the body is not JSON'), badDay, p(409, 'DAY_NOT_CLOSED', 'the day has not ended yet')],
    },
  },
  '/snapshots/{day}': {
    get: {
      operationId: 'getSnapshot',
      summary: "One day's snapshot: its close (eod) or its open (sod)",
      tag: 'reports',
      description: 'The state as of the last instant of the day (`type=sod`: of the day before), as taken.',
      parameters: [
        pathParam('day', 'YYYY-MM-DD.'),
        query('type', '`eod` (default) or `sod`.', { type: 'string', enum: ['eod', 'sod'] }),
        bookParam,
        query('lots', "Add each position's open lots.", { type: 'string', enum: ['1', 'true', '0', 'false'] }),
      ],
      responses: ok('DaySnapshot', 'The snapshot.'),
      problems: [p(400, 'BAD_QUERY', 'a parameter is given twice; `type` or `lots` is not one of its values'), badDay, otherBook, p(404, 'SNAPSHOT_NOT_FOUND', 'no snapshot of that day was taken')],
    },
  },
  '/export/{kind}': {
    get: {
      operationId: 'exportReport',
      summary: 'Export positions, lots, the PnL of a period, or the events of a period',
      tag: 'reports',
      description:
        'An attachment (`Content-Disposition`). `positions` and `lots` as of `at` (default now); `pnl` over `from` (default today 00:00Z) to `to` (default now), with the same baseline as GET /pnl; ' +
        '`events` from `from` to `to` in ts order, streamed (`jsonl`: the canonical events, replayable with `utl replay`). CSV: RFC 4180 with a header; text that a spreadsheet would run as a formula gets a leading `\'`.',
      parameters: [
        pathParam('kind', '`positions`, `lots`, `pnl` or `events`.'),
        query('format', '`csv` (default), `json`, or for events `jsonl`.', { type: 'string', enum: ['csv', 'json', 'jsonl'] }),
        bookParam,
        query('asset', 'positions, lots, pnl: only this asset.'),
        query('venue', 'positions, lots: only positions with a quantity at this venue (not for pnl: 400).'),
        query('at', 'positions, lots: as of this instant.', { type: 'string', format: 'date-time' }),
        query('from', 'pnl, events: the start of the period.', { type: 'string', format: 'date-time' }),
        query('to', 'pnl, events: the end of the period.', { type: 'string', format: 'date-time' }),
        query('type', 'events: only this event type.', { type: 'string', enum: EVENT_TYPES }),
      ],
      responses: {
        '200': {
          description: 'The export.',
          content: {
            'text/csv': { schema: { type: 'string' } },
            'application/json': { schema: { oneOf: [ref('PositionsExport'), ref('LotsExport'), ref('PnlExport'), arrayOf(ref('Event'))] } },
            'application/x-ndjson': { schema: { type: 'string', description: 'One event per line, as committed.' } },
          },
        },
      },
      problems: [p(400, 'BAD_QUERY', 'a parameter is given twice; `format` is not one for this kind; `to` is before `from`'), badAt, otherBook, p(404, 'NOT_FOUND', '`kind` is not positions, lots, pnl or events')],
    },
  },
};

/** Every documented route: one area object each. */
export const PATHS: Area = { ...EVENTS, ...STATE, ...REPORTS, ...OPERATIONS, ...RECON, ...ALERTS, ...LIVE, ...DASHBOARD };

// ---- what operation() adds ----

const CODE_HEADERS: { readonly [code: string]: { readonly [name: string]: { readonly description: string; readonly schema: Schema } } } = {
  UNAUTHENTICATED: { 'WWW-Authenticate': { description: '`Bearer realm="utl"` (`, error="invalid_token"` when a key was sent).', schema: { type: 'string' } } },
  FORBIDDEN: { 'WWW-Authenticate': { description: 'When the scope is too low: `Bearer realm="utl", error="insufficient_scope", scope="<scope>"`.', schema: { type: 'string' } } },
  RATE_LIMITED: { 'Retry-After': { description: 'Seconds until a retry may pass.', schema: { type: 'integer' } } },
};

/** Groups problems by status into problem+json responses whose `code` lists what they can carry. */
function problemResponses(problems: readonly ProblemDoc[]): { [status: string]: Response } {
  const out: { [status: string]: Response } = {};
  for (const status of [...new Set(problems.map((x) => x.status))].sort((a, b) => a - b)) {
    const mine = problems.filter((x) => x.status === status);
    const codes = [...new Set(mine.filter((x) => !x.code.endsWith('*')).map((x) => x.code))];
    const families = [...new Set(mine.filter((x) => x.code.endsWith('*')).map((x) => x.code.slice(0, -1)))];
    const exact: Schema = { type: 'string', enum: codes };
    const code: Schema = families.length === 0 ? exact : { anyOf: [exact, ...families.map((f) => ({ type: 'string', pattern: `^${f}` }))] };
    const headers = Object.assign({}, ...codes.map((c) => CODE_HEADERS[c] ?? {})) as Response['headers'];
    out[String(status)] = {
      description: mine.map((x) => `\`${x.code}\`: ${x.when}.`).join('\n\n'),
      ...(headers !== undefined && Object.keys(headers).length > 0 ? { headers } : {}),
      content: { 'application/problem+json': { schema: { allOf: [ref('Problem'), { type: 'object', properties: { code } }] } } },
    };
  }
  return out;
}

/**
 * The OpenAPI operation of a route: its own description, plus what the server decides for every
 * route: who may call it (auth.ts `routePolicy` on its fastify pattern) and the problems the hooks
 * and the error handler answer.
 */
export function operation(path: string, method: Method, doc: RouteDoc): Operation {
  const policy = routePolicy(method.toUpperCase(), path.replace(/\{([^}]+)\}/g, ':$1'));
  const problems: ProblemDoc[] = [];
  if (policy !== 'open') {
    problems.push(p(401, 'UNAUTHENTICATED', 'auth is on and no API key was sent, or it is unknown, malformed or revoked'));
    problems.push(p(403, 'FORBIDDEN', `the key's scope is below \`${policy.scope}\``));
    if (policy.everyBook) problems.push(p(403, 'FORBIDDEN', 'the key is restricted to some books: this route shows firm-wide data'));
  }
  problems.push(...(doc.problems ?? []));
  if (method === 'post') {
    problems.push(p(400, 'FST_ERR_*', 'the framework refused the request (a bad Content-Length…): its own code, title "Bad request"'));
    problems.push(p(413, 'BODY_TOO_LARGE', "the body is over the route's limit: 16 MiB (64 KiB on break actions)"));
    problems.push(p(429, 'RATE_LIMITED', 'past the write limit of the key (or address): `--write-limit` POSTs a minute, 600 by default'));
  }
  problems.push(p(500, 'INTERNAL', 'an unexpected error (logged)'));
  const scope: ScopeNeeded = policy === 'open' ? 'none' : policy.scope;
  const everyBook = policy !== 'open' && policy.everyBook;
  const schemes: SecurityScheme[] = ['bearer', 'apiKey', ...(doc.alsoSecurity ?? [])];
  const access =
    policy === 'open'
      ? 'Open: no API key, even with auth on.'
      : `Needs an API key with the \`${policy.scope}\` scope${everyBook ? ', for every book (a key restricted to some books is refused: the data is firm-wide)' : ''} when auth is on.`;
  return {
    operationId: doc.operationId,
    summary: doc.summary,
    description: `${doc.description}\n\n**Access.** ${access}`,
    tags: [doc.tag],
    ...(doc.parameters === undefined ? {} : { parameters: doc.parameters }),
    ...(doc.requestBody === undefined ? {} : { requestBody: doc.requestBody }),
    responses: { ...doc.responses, ...problemResponses(problems) },
    security: policy === 'open' ? [] : schemes.map((s) => ({ [s]: [policy.scope] })),
    'x-scope': scope,
    'x-every-book': everyBook,
  };
}

function pathsOf(area: Area): { [path: string]: PathItem } {
  return Object.fromEntries(
    Object.entries(area).map(([path, methods]) => [
      path,
      Object.fromEntries((Object.entries(methods) as [Method, RouteDoc][]).map(([method, doc]) => [method, operation(path, method, doc)])) as PathItem,
    ]),
  );
}

export const OPENAPI: OpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'UTL HTTP API',
    version: '0.1.0',
    summary: 'Exact real-time positions, cost basis, PnL and exposure for crypto trading.',
    description: [
      'What `utl start` serves (docs/api.md is the prose reference). There is no path prefix: the server is the one serving this document.',
      '- **Auth**: with `--auth required` (the default with a DATABASE_URL) each route needs an API key, `Authorization: Bearer <token>` or `X-API-Key: <token>`, with the scope it lists (`x-scope`: read < write < admin; `x-every-book`: a key restricted to some books is refused). With auth off every route is open.',
      '- **Decimals** are JSON strings at full precision; **timestamps** ISO-8601 UTC with `Z`.',
      '- **Errors** are RFC 9457 `application/problem+json` with a stable `code`; each response lists the codes it can carry. A path that is no route is 404 `NOT_FOUND` (with auth on, 401 first without a key).',
      '- **Writes** (POST) are limited per key (429 `RATE_LIMITED`) and audited (GET /audit).',
      '- Also served, open: this document at `/docs/openapi.json` and its interactive page at `/docs`.',
    ].join('\n'),
  },
  tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
  paths: pathsOf(PATHS),
  components: { schemas: SCHEMAS, securitySchemes: SECURITY_SCHEMES },
};
