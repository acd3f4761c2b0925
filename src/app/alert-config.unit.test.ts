/** The alert config file: the example parses; YAML errors, bad values and missing variables are all listed. */
import { describe, expect, it } from 'vitest';
import { Dec } from '../domain/decimal.js';
import { AlertConfigError, loadAlertConfig, parseAlertConfig } from './alert-config.js';

const EXAMPLE = new URL('../../examples/alerts.yml', import.meta.url).pathname;

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof AlertConfigError) return err.problems;
    throw err;
  }
  throw new Error('no error');
}

describe('alert config file', () => {
  it('given the example file and its environment, then every rule and sink reads', async () => {
    const c = await loadAlertConfig(EXAMPLE, { UTL_SLACK_WEBHOOK: 'https://hooks.slack.example/T/B/x' });
    expect(c.rules).toHaveLength(11);
    expect(c.sinks.map((s) => s.type)).toEqual(['webhook', 'nats', 'log']);
    expect(c.sinks[0]).toMatchObject({ url: 'https://hooks.slack.example/T/B/x', minSeverity: 'warning' });
    const venue = c.rules.find((r) => r.name === 'venue-counterparty');
    expect(venue).toMatchObject({ scope: 'venue', key: '*', measure: 'held' });
  });

  it('given a fractional amount in YAML, then it is read exactly (never through a float)', () => {
    const c = parseAlertConfig('rules:\n  - {name: a, kind: break_value, severity: info, above: 0.1}\n  - {name: b, kind: drawdown, severity: info, limit: 12345678901234567890.123456789}\n', 'x', {});
    const [a, b] = c.rules;
    expect(a!.kind === 'break_value' && a!.above.eq(Dec.of('0.1'))).toBe(true);
    expect(b!.kind === 'drawdown' && b!.limit.toString()).toBe('12345678901234567890.123456789');
  });

  it('given JSON, then it reads as well', () => {
    expect(parseAlertConfig('{"rules": [{"name": "c", "kind": "check_failed", "severity": "critical"}]}', 'x', {}).rules).toHaveLength(1);
  });

  it('given a variable that is not set, then the problem names it with its path', async () => {
    await expect(loadAlertConfig(EXAMPLE, {})).rejects.toThrow('sinks[0].url: the environment variable UTL_SLACK_WEBHOOK is not set');
  });

  it('given broken YAML or a duplicate key, then the line is given', () => {
    expect(problemsOf(() => parseAlertConfig('rules:\n  - name: a\n    name: b\n', 'x', {}))[0]).toMatch(/^line 3: Map keys must be unique/);
    expect(problemsOf(() => parseAlertConfig('rules: [\n', 'x', {}))[0]).toMatch(/^line \d+:/);
  });

  it('given a missing file, then it says so', async () => {
    await expect(loadAlertConfig('/nonexistent/alerts.yml', {})).rejects.toThrow(/cannot read the file/);
  });
});
