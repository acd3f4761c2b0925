/**
 * The reconciliation settings (`utl start --recon FILE`, `utl check --recon FILE`): tolerances per
 * asset, venues that lend, transfer matching, funding interval, how often rechecks and checks run.
 * YAML or JSON, read with the failsafe schema so every scalar stays text: decimals are never
 * parsed as floats on the way in. Parsed once at start; every problem is listed with its path.
 *
 * ```yaml
 * tolerances:
 *   default: { abs: "0", rel: "0" }
 *   assets:
 *     BTC:  { abs: "0.00000001" }
 *     USDT: { abs: "0.01", rel: "0.000001" }
 * lending_venues: [binance-margin]
 * funding_interval: 8h
 * transfers: { window: 6h, max_transit: 2h, skew: 1m, fee_tolerance: { default: "0", BTC: "0.0005" } }
 * recheck_interval: 1s
 * check_interval: 1m
 * ```
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { Dec, readDecimal } from '../domain/decimal.js';
import { parseDuration } from '../domain/alerts/duration.js';
import { EXACT, type Tolerance, type Tolerances } from '../domain/recon/tolerance.js';

export interface ReconConfig {
  readonly tolerances: Tolerances;
  readonly lendingVenues: ReadonlySet<string>;
  readonly fundingIntervalMs: number;
  readonly transfers: {
    readonly windowMs: number;
    readonly maxTransitMs: number;
    readonly skewMs: number;
    readonly feeTolerance: (asset: string) => Dec;
  };
  /** UTL's side of reports already taken is held again at most this often after a late event. */
  readonly recheckIntervalMs: number;
  /** The consistency checks run this often. */
  readonly checkIntervalMs: number;
}

export const DEFAULT_RECON: ReconConfig = {
  tolerances: { default: EXACT, byAsset: new Map() },
  lendingVenues: new Set(),
  fundingIntervalMs: 8 * 3_600_000,
  transfers: { windowMs: 6 * 3_600_000, maxTransitMs: 2 * 3_600_000, skewMs: 60_000, feeTolerance: () => Dec.ZERO },
  recheckIntervalMs: 1_000,
  checkIntervalMs: 60_000,
};

export class ReconConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
    options?: ErrorOptions,
  ) {
    super(`${source}: ${problems.length} problem(s) in the reconciliation settings:\n  - ${problems.join('\n  - ')}`, options);
    this.name = 'ReconConfigError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function validateReconConfig(raw: unknown): { ok: true; config: ReconConfig } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const doc: Obj = raw === undefined || raw === null || raw === '' ? {} : isObj(raw) ? raw : (problems.push('(root): expected a mapping'), {});
  const known = (o: Obj, path: string, keys: readonly string[]): void => {
    for (const k of Object.keys(o)) if (!keys.includes(k)) problems.push(`${path}${k}: unknown setting (expected one of ${keys.join(', ')})`);
  };
  known(doc, '', ['tolerances', 'lending_venues', 'funding_interval', 'transfers', 'recheck_interval', 'check_interval']);
  const dec = (v: unknown, path: string, nonNegative = true): Dec | undefined => {
    if (typeof v !== 'string') {
      problems.push(`${path}: expected a decimal, got ${JSON.stringify(v)}`);
      return undefined;
    }
    const d = readDecimal(v);
    if (!(d instanceof Dec)) {
      problems.push(`${path}: expected a plain decimal like "0.0001", got ${JSON.stringify(v)}`);
      return undefined;
    }
    if (nonNegative && d.isNeg()) problems.push(`${path}: must not be negative`);
    return d;
  };
  const duration = (v: unknown, path: string, def: number): number => {
    if (v === undefined) return def;
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined) {
      problems.push(`${path}: expected a duration like 30s, 15m, 8h, got ${JSON.stringify(v)}`);
      return def;
    }
    return ms;
  };
  const tolerance = (v: unknown, path: string): Tolerance => {
    if (!isObj(v)) {
      problems.push(`${path}: expected { abs, rel }`);
      return EXACT;
    }
    known(v, `${path}.`, ['abs', 'rel']);
    return { abs: v.abs === undefined ? Dec.ZERO : (dec(v.abs, `${path}.abs`) ?? Dec.ZERO), rel: v.rel === undefined ? Dec.ZERO : (dec(v.rel, `${path}.rel`) ?? Dec.ZERO) };
  };

  let tolerances: Tolerances = DEFAULT_RECON.tolerances;
  if (doc.tolerances !== undefined) {
    const t = isObj(doc.tolerances) ? doc.tolerances : (problems.push('tolerances: expected a mapping'), {});
    known(t, 'tolerances.', ['default', 'assets']);
    const byAsset = new Map<string, Tolerance>();
    if (t.assets !== undefined) {
      if (!isObj(t.assets)) problems.push('tolerances.assets: expected a mapping of asset to { abs, rel }');
      else for (const [asset, v] of Object.entries(t.assets)) byAsset.set(asset, tolerance(v, `tolerances.assets.${asset}`));
    }
    tolerances = { default: t.default === undefined ? EXACT : tolerance(t.default, 'tolerances.default'), byAsset };
  }
  let lendingVenues = new Set<string>();
  if (doc.lending_venues !== undefined) {
    if (!Array.isArray(doc.lending_venues) || !doc.lending_venues.every((v) => typeof v === 'string')) problems.push('lending_venues: expected a list of venue names');
    else lendingVenues = new Set(doc.lending_venues);
  }
  const tr = doc.transfers === undefined ? {} : isObj(doc.transfers) ? doc.transfers : (problems.push('transfers: expected a mapping'), {});
  known(tr, 'transfers.', ['window', 'max_transit', 'skew', 'fee_tolerance']);
  const fees = new Map<string, Dec>();
  if (tr.fee_tolerance !== undefined) {
    if (!isObj(tr.fee_tolerance)) problems.push('transfers.fee_tolerance: expected a mapping of asset (or default) to an amount');
    else for (const [asset, v] of Object.entries(tr.fee_tolerance)) fees.set(asset, dec(v, `transfers.fee_tolerance.${asset}`) ?? Dec.ZERO);
  }
  const feeDefault = fees.get('default') ?? Dec.ZERO;
  const d = DEFAULT_RECON;
  const config: ReconConfig = {
    tolerances,
    lendingVenues,
    fundingIntervalMs: duration(doc.funding_interval, 'funding_interval', d.fundingIntervalMs),
    transfers: {
      windowMs: duration(tr.window, 'transfers.window', d.transfers.windowMs),
      maxTransitMs: duration(tr.max_transit, 'transfers.max_transit', d.transfers.maxTransitMs),
      skewMs: duration(tr.skew, 'transfers.skew', d.transfers.skewMs),
      feeTolerance: (asset) => fees.get(asset) ?? feeDefault,
    },
    recheckIntervalMs: duration(doc.recheck_interval, 'recheck_interval', d.recheckIntervalMs),
    checkIntervalMs: duration(doc.check_interval, 'check_interval', d.checkIntervalMs),
  };
  return problems.length > 0 ? { ok: false, problems } : { ok: true, config };
}

export function parseReconConfig(text: string, source = 'recon'): ReconConfig {
  const doc = parseDocument(text, { schema: 'failsafe', uniqueKeys: true });
  if (doc.errors.length > 0) throw new ReconConfigError(source, doc.errors.map((e) => `line ${e.linePos?.[0].line ?? '?'}: ${e.message.split('\n')[0]}`));
  const r = validateReconConfig(doc.toJS());
  if (!r.ok) throw new ReconConfigError(source, r.problems);
  return r.config;
}

export async function loadReconConfig(path: string): Promise<ReconConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ReconConfigError(path, [`cannot read the file: ${(err as Error).message}`], { cause: err });
  }
  return parseReconConfig(text, path);
}
