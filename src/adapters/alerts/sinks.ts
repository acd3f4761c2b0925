/**
 * The sinks a config file declares, built once at start. A `nats` sink needs a publisher (the
 * service's update sink); without one the config cannot be honoured, and this throws at start.
 */
import type { AlertSink } from '../../app/alerting.js';
import type { UpdateSink } from '../../app/ports.js';
import type { Logger } from '../../app/service.js';
import type { SinkConfig } from '../../domain/alerts/rules.js';
import { logAlertSink } from './log.js';
import { natsAlertSink } from './nats.js';
import { webhookSink } from './webhook.js';

export interface SinkDeps {
  readonly log: Logger;
  /** For `nats` sinks: core NATS or the in-process bus. */
  readonly publisher?: Pick<UpdateSink, 'publish'>;
}

export function buildSinks(configs: readonly SinkConfig[], deps: SinkDeps): AlertSink[] {
  return configs.map((c) => {
    switch (c.type) {
      case 'webhook':
        return webhookSink({ name: c.name, minSeverity: c.minSeverity, url: c.url, headers: c.headers, timeoutMs: c.timeoutMs, retries: c.retries });
      case 'nats':
        if (deps.publisher === undefined) throw new Error(`alert sink ${c.name} publishes on NATS, but no publisher was given`);
        return natsAlertSink(deps.publisher, { name: c.name, minSeverity: c.minSeverity, subject: c.subject });
      case 'log':
        return logAlertSink(deps.log, { name: c.name, minSeverity: c.minSeverity });
    }
  });
}
