/**
 * The alert rules `utl start` runs when no `--alerts` file is given: what every deployment
 * wants, with no firm-specific amounts (exposure limits and break values need a file). Notices go
 * to the log and to NATS (`utl.alerts`, or the in-process bus).
 */
export const DEFAULT_ALERTS_YAML = `
evaluate_every: 5s
defaults:
  for: 0s
  repeat: 4h
sinks:
  - { name: log, type: log }
  - { name: bus, type: nats, subject: utl.alerts }
rules:
  - { name: consistency-check-failed, kind: check_failed, severity: critical, repeat: 1h }
  - { name: break-older-than-a-day, kind: break_age, severity: warning, older_than: 24h }
  - { name: venue-silent, kind: stale_source, severity: warning, silent_for: 15m }
  - { name: stale-mark, kind: stale_mark, severity: warning, older_than: 15m, for: 1m }
  - { name: consumer-behind, kind: consumer_lag, severity: warning, above: 100000, for: 2m }
  - { name: rejections, kind: rejected_rate, severity: warning, above: 100, window: 5m }
`;
