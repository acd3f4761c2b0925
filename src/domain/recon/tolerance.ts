/**
 * How far a venue's figure may be from UTL's before it is a break: per asset, an absolute amount
 * and a fraction of the venue's figure; the wider of the two holds (dust on a big balance, and a
 * fixed floor for small ones). The default holds for assets without their own.
 */
import { Dec } from '../decimal.js';

export interface Tolerance {
  /** In units of the asset. */
  readonly abs: Dec;
  /** A fraction of |reference| (0.0001 = 1 bp). */
  readonly rel: Dec;
}

export interface Tolerances {
  readonly default: Tolerance;
  readonly byAsset: ReadonlyMap<string, Tolerance>;
}

export const EXACT: Tolerance = { abs: Dec.ZERO, rel: Dec.ZERO };

export const DEFAULT_TOLERANCES: Tolerances = { default: EXACT, byAsset: new Map() };

export function toleranceFor(t: Tolerances, asset: string): Tolerance {
  return t.byAsset.get(asset) ?? t.default;
}

/** The largest difference allowed against `reference`. */
export function allowance(t: Tolerance, reference: Dec): Dec {
  return t.abs.max(t.rel.mul(reference.abs()));
}

/** Whether |diff| is within the tolerance around `reference` (no division: exact). */
export function within(t: Tolerance, diff: Dec, reference: Dec): boolean {
  return diff.abs().lte(allowance(t, reference));
}
