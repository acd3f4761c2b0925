/**
 * What the alert engine looks at on each evaluation: one plain value the application assembles
 * from the service, reconciliation and the consumer (src/app/alerting.ts takes a provider of it).
 * The domain has no clock, so the wall clock comes in here too (`nowMs`). Decimals are strings,
 * as everywhere at a boundary; the engine reads them with `Dec`, never as JS numbers.
 */

export type BreakStatus = 'open' | 'acknowledged' | 'resolved' | 'auto_resolved';

export interface AlertFacts {
  /** Wall clock, epoch ms (given by the app; the domain has no clock). */
  readonly nowMs: number;
  /** Reporting currency, e.g. USD. */
  readonly reporting: string;
  /** Reconciliation breaks; `value` in the reporting currency (absolute), null when unpriced. */
  readonly breaks: readonly { id: string; venue: string; account: string; asset: string; status: BreakStatus; firstSeenMs: number; diff: string; value: string | null }[];
  /** The last venue balance report received, per venue. */
  readonly sources: readonly { venue: string; lastReportMs: number }[];
  /** Assets with an open position and when they were last marked (wall clock of the mark's ts). */
  readonly marks: readonly { asset: string; openQty: string; lastMarkMs: number | null }[];
  readonly consumerLag: number | undefined;
  /** A counter: the engine derives the rate over its window. */
  readonly rejectedTotal: number;
  readonly exposure: {
    byAsset: readonly { asset: string; net: string; gross: string }[];
    byVenue: readonly { venue: string; net: string; gross: string; held: string }[];
    byBook: readonly { book: string; net: string; gross: string }[];
    firm: { net: string; gross: string };
  };
  /** Current total PnL per book (null when unpriced). */
  readonly pnl: readonly { book: string; total: string | null }[];
  /** Consistency checks; a failing one is an alert. */
  readonly checks: readonly { name: string; ok: boolean; detail: string }[];
}
