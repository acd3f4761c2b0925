/** The alert config validator: a full config reads back as data; every problem is listed with its path. */
import { describe, expect, it } from 'vitest';
import { Dec } from '../decimal.js';
import { formatDuration, parseDuration } from './duration.js';
import { DEFAULT_REPEAT_MS, validateAlertConfig } from './rules.js';

describe('durations', () => {
  it('reads units and compounds, refuses bare numbers and junk', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('2d')).toBe(172_800_000);
    for (const bad of ['', '15', 'm', '1.5h', '-1s', '15 m', '400d', '1h junk']) expect(parseDuration(bad), bad).toBeUndefined();
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(0)).toBe('0s');
  });
});

describe('validateAlertConfig', () => {
  it('given a config of every kind, then it reads to rules and sinks with defaults filled', () => {
    const r = validateAlertConfig({
      evaluate_every: '10s',
      defaults: { repeat: '1h' },
      sinks: [
        { name: 'slack', type: 'webhook', url: 'https://hooks.example/x', headers: { Authorization: 'Bearer t' }, retries: '2', min_severity: 'warning' },
        { name: 'bus', type: 'nats' },
        { name: 'log', type: 'log' },
      ],
      rules: [
        { name: 'old-breaks', kind: 'break_age', severity: 'warning', older_than: '24h', sinks: ['slack'] },
        { name: 'big-breaks', kind: 'break_value', severity: 'critical', above: '10000.50', for: '5m' },
        { name: 'silent', kind: 'stale_source', severity: 'warning', silent_for: '15m', venues: ['binance', 'okx'] },
        { name: 'stale-marks', kind: 'stale_mark', severity: 'warning', older_than_ms: 600000 },
        { name: 'lag', kind: 'consumer_lag', severity: 'warning', above: 10000, repeat: '0s' },
        { name: 'rejects', kind: 'rejected_rate', severity: 'warning', above: '100', window: '5m' },
        { name: 'btc', kind: 'exposure_limit', severity: 'critical', scope: 'asset', key: 'BTC', measure: 'net', limit: '5000000' },
        { name: 'held', kind: 'exposure_limit', severity: 'warning', scope: 'venue', measure: 'held', limit: 1000000 },
        { name: 'dd', kind: 'drawdown', severity: 'critical', limit: '250000', day_start_hour: '8' },
        { name: 'checks', kind: 'check_failed', severity: 'critical' },
      ],
    });
    if (!r.ok) throw new Error(r.problems.join('\n'));
    const c = r.config;
    expect(c.evaluateEveryMs).toBe(10_000);
    expect(c.sinks).toEqual([
      { type: 'webhook', name: 'slack', minSeverity: 'warning', url: 'https://hooks.example/x', headers: { Authorization: 'Bearer t' }, timeoutMs: 5000, retries: 2 },
      { type: 'nats', name: 'bus', minSeverity: 'info', subject: 'utl.alerts' },
      { type: 'log', name: 'log', minSeverity: 'info' },
    ]);
    expect(c.rules.map((x) => x.kind)).toEqual(['break_age', 'break_value', 'stale_source', 'stale_mark', 'consumer_lag', 'rejected_rate', 'exposure_limit', 'exposure_limit', 'drawdown', 'check_failed']);
    expect(c.rules[0]).toMatchObject({ name: 'old-breaks', severity: 'warning', forMs: 0, repeatMs: 3_600_000, sinks: ['slack'], olderThanMs: 86_400_000, statuses: ['open', 'acknowledged'] });
    expect(c.rules[1]).toMatchObject({ forMs: 300_000, sinks: undefined });
    expect(c.rules[1]!.kind === 'break_value' && c.rules[1]!.above.eq(Dec.of('10000.5'))).toBe(true);
    expect(c.rules[3]).toMatchObject({ olderThanMs: 600_000 });
    expect(c.rules[4]).toMatchObject({ repeatMs: 0, above: 10_000 });
    expect(c.rules[7]).toMatchObject({ scope: 'venue', key: '*', measure: 'held' });
    expect(c.rules[8]).toMatchObject({ dayStartHour: 8, books: undefined });
  });

  it('given an empty rule list, then the defaults hold', () => {
    const r = validateAlertConfig({ rules: [] });
    expect(r).toEqual({ ok: true, config: { evaluateEveryMs: 5000, rules: [], sinks: [] } });
    expect(DEFAULT_REPEAT_MS).toBe(4 * 3_600_000);
  });

  it('given many mistakes, then every one is listed with its path', () => {
    const r = validateAlertConfig({
      extra: 1,
      sinks: [{ name: 'hook', type: 'webhook', url: 'ftp://x', retries: 99 }, { name: 'hook', type: 'log' }, { type: 'pager' }],
      rules: [
        { name: 'a', kind: 'break_age', severity: 'loud', older_than: '1 day' },
        { name: 'a', kind: 'break_value', severity: 'info', above: 0.1 },
        { name: 'c', kind: 'exposure_limit', severity: 'info', scope: 'asset', measure: 'held', limit: '1' },
        { name: 'd', kind: 'nope', severity: 'info' },
        { name: 'e', kind: 'consumer_lag', severity: 'info', above: 5, sinks: ['pager'], for: '5m', for_ms: 1 },
        { name: 'f', kind: 'drawdown', severity: 'info', limit: '-5', day_start_hour: 24, colour: 'red' },
        'g',
      ],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual([
      '(top).extra: unknown field (expected one of defaults, evaluate_every, evaluate_every_ms, sinks, rules)',
      'sinks[0].url: expected an http(s) URL, got "ftp://x"',
      'sinks[0].retries: expected a whole number from 0 to 10, got 99',
      'sinks[1].name: "hook" is already the name of another sink',
      'sinks[2].type: expected one of webhook, nats, log, got "pager"',
      'sinks[2].name: expected a name, got nothing',
      'rules[0].severity: expected one of info, warning, critical, got "loud"',
      'rules[0].older_than: expected a duration like 30s, 15m, 24h (at most 366d), got "1 day"',
      'rules[1].above: expected a decimal amount (write a fractional amount as a string, e.g. "0.5"), got 0.1',
      'rules[2].measure: held is measured per venue only (scope: venue)',
      'rules[3].kind: expected one of break_age, break_value, stale_source, stale_mark, consumer_lag, rejected_rate, exposure_limit, drawdown, check_failed, got "nope"',
      'rules[4].for: give for or for_ms, not both',
      'rules[4].sinks[0]: no sink is named "pager"',
      'rules[5].colour: unknown field (expected one of name, kind, severity, for, for_ms, repeat, repeat_ms, sinks, limit, day_start_hour, books)',
      'rules[5].limit: expected an amount of at least 0, got "-5"',
      'rules[5].day_start_hour: expected a whole number from 0 to 23, got 24',
      'rules[6]: expected a mapping with name, kind and severity, got "g"',
    ]);
  });
});
