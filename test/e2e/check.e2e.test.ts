/**
 * `utl check` end to end on examples/recon: breaks held as of each report's instant with their
 * suggested causes, an overdue transfer, a venue trade missing in UTL, the checks, exit codes.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const DIR = 'examples/recon';

async function utl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('node', ['bin/utl.js', ...args]);
    return { code: 0, ...r };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

describe('utl check', () => {
  it('finds each break with its cause, the overdue transfer and the missing venue trade, and exits 4', async () => {
    const r = await utl(['check', `${DIR}/log.jsonl`, '--recon', `${DIR}/recon.yml`, '--trades', `${DIR}/venue-trades.json`, '--trades-venue', 'binance', '--json']);
    expect(r.code).toBe(4);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      reports: number;
      breaks: { id: string; status: string; diff: string; value: string; explanation: { suggestions: { cause: string; events: string[] }[] } }[];
      transfers: { matched: { withdrawal: string; deposit: string }[]; breaks: { id: string }[] };
      trades: { matched: number; missingInUtl: { venueTradeId: string }[]; missingAtVenue: unknown[] };
      checks: { name: string; ok: boolean }[];
    };
    expect(out.ok).toBe(false);
    expect(out.reports).toBe(6);
    // The 09:45 reports and okx's agree (fills after 09:45 are not held against them).
    expect(out.breaks.map((b) => [b.id, b.status, b.diff, b.value, b.explanation.suggestions.map((s) => s.cause)])).toEqual([
      ['brk:bn-bal-1130-bnb', 'open', '-0.02542', '15.252', ['fee_in_other_asset']],
      ['brk:bn-bal-1130-btc', 'open', '0.5', '30500', ['missing_at_venue']],
      ['brk:bn-bal-1130-usdt', 'open', '15.25', '15.25', ['fee_in_other_asset']],
    ]);
    expect(out.transfers.matched.map((m) => [m.withdrawal, m.deposit])).toEqual([['bn-wd-1', 'okx-dep-1']]);
    expect(out.transfers.breaks.map((f) => f.id)).toEqual(['bn-wd-2']);
    expect(out.trades.matched).toBe(3);
    expect(out.trades.missingInUtl.map((t) => t.venueTradeId)).toEqual(['5005']);
    expect(out.checks.every((c) => c.ok)).toBe(true);
  });

  it('exits 0 on a log whose reports agree, and 2 on bad settings', async () => {
    const ok = await utl(['check', 'examples/desk.jsonl']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('All reconciled.');
    const bad = await utl(['check', 'examples/desk.jsonl', '--recon', 'package.json']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown setting');
  });
});
