/**
 * The log sink: one line per notification in the service's log: `error` for a critical firing or
 * repeat, `warn` for the others, `info` for a resolve.
 */
import type { AlertSink } from '../../app/alerting.js';
import type { Logger } from '../../app/service.js';
import type { AlertNotification } from '../../domain/alerts/engine.js';
import { alertDocument, alertText } from '../../domain/alerts/payload.js';
import type { Severity } from '../../domain/alerts/rules.js';

export function logAlertSink(log: Logger, opts: { name: string; minSeverity: Severity }): AlertSink {
  return {
    name: opts.name,
    minSeverity: opts.minSeverity,
    send(n: AlertNotification) {
      const line = { alert: alertDocument(n) };
      if (n.kind === 'resolved') log.info(line, alertText(n));
      else if (n.severity === 'critical') log.error(line, alertText(n));
      else log.warn(line, alertText(n));
      return Promise.resolve();
    },
  };
}
