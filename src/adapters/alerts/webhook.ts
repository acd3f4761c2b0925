/**
 * The webhook sink: a JSON POST of a Slack-compatible body (`text`, `attachments`, and the
 * structured alert under `utl`), with node's global fetch.
 *
 * Bounds: each attempt is cut off after `timeoutMs`; at most `retries` further attempts, after
 * `backoffMs`, doubling each time up to `MAX_BACKOFF_MS`. A 2xx is delivered; a 4xx other than
 * 408/429 is the receiver refusing the request and is not retried; anything else (5xx, 408, 429,
 * a network error, a timeout) is. It runs beside the evaluation (src/app/alerting.ts), never
 * in the booking path.
 */
import type { AlertSink } from '../../app/alerting.js';
import type { AlertNotification } from '../../domain/alerts/engine.js';
import { slackPayload } from '../../domain/alerts/payload.js';
import type { Severity } from '../../domain/alerts/rules.js';

/** The receiver did not take the notification, after every attempt. */
export class WebhookDeliveryError extends Error {
  override readonly name = 'WebhookDeliveryError';
  constructor(
    readonly url: string,
    readonly attempts: number,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(`webhook ${url} did not take the alert after ${attempts} attempt(s)${status === undefined ? '' : ` (last status ${status})`}`, options);
  }
}

export interface WebhookSinkOptions {
  readonly name: string;
  readonly minSeverity: Severity;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly retries: number;
  /** The first pause between attempts (default 500 ms). */
  readonly backoffMs?: number;
  /** How to wait between attempts (tests shorten it). */
  readonly sleep?: (ms: number) => Promise<void>;
}

export const MAX_BACKOFF_MS = 30_000;
const DEFAULT_BACKOFF_MS = 500;

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export function webhookSink(opts: WebhookSinkOptions): AlertSink {
  const sleep = opts.sleep ?? wait;
  const backoff = opts.backoffMs ?? DEFAULT_BACKOFF_MS;
  const headers = { 'content-type': 'application/json', ...opts.headers };
  return {
    name: opts.name,
    minSeverity: opts.minSeverity,
    async send(n: AlertNotification) {
      const body = JSON.stringify(slackPayload(n));
      let lastStatus: number | undefined;
      let lastError: unknown;
      const attempts = opts.retries + 1;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
          const res = await fetch(opts.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(opts.timeoutMs) });
          lastStatus = res.status;
          lastError = undefined;
          await res.arrayBuffer(); // release the connection
          if (res.ok) return;
          if (!retryable(res.status)) throw new WebhookDeliveryError(opts.url, attempt, res.status);
        } catch (err) {
          if (err instanceof WebhookDeliveryError) throw err;
          lastError = err;
          lastStatus = undefined;
        }
        if (attempt < attempts) await sleep(Math.min(backoff * 2 ** (attempt - 1), MAX_BACKOFF_MS));
      }
      throw new WebhookDeliveryError(opts.url, attempts, lastStatus, lastError === undefined ? undefined : { cause: lastError });
    },
  };
}
