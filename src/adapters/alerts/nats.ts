/**
 * The NATS sink: the structured alert (`alertDocument`) as JSON on one subject (`utl.alerts` by
 * default), through anything with `publish(subject, bytes)`: the service's `UpdateSink` on core
 * NATS (at most once, fire and forget) or the in-process bus.
 */
import type { AlertSink } from '../../app/alerting.js';
import type { UpdateSink } from '../../app/ports.js';
import type { AlertNotification } from '../../domain/alerts/engine.js';
import { alertDocument } from '../../domain/alerts/payload.js';
import { DEFAULT_NATS_SUBJECT, type Severity } from '../../domain/alerts/rules.js';

export interface NatsAlertSinkOptions {
  readonly name: string;
  readonly minSeverity: Severity;
  readonly subject?: string;
}

const enc = new TextEncoder();

export function natsAlertSink(publisher: Pick<UpdateSink, 'publish'>, opts: NatsAlertSinkOptions): AlertSink {
  const subject = opts.subject ?? DEFAULT_NATS_SUBJECT;
  return {
    name: opts.name,
    minSeverity: opts.minSeverity,
    send(n: AlertNotification) {
      publisher.publish(subject, enc.encode(JSON.stringify(alertDocument(n))));
      return Promise.resolve();
    },
  };
}
