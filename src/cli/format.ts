/**
 * Human-readable tables for the terminal: numbers right-aligned with thousands separators,
 * rounded for display only (the JSON output keeps full precision), gains and losses told apart
 * by sign and, on a colour terminal, by colour.
 */
import { Dec } from '../domain/decimal.js';
import type { Report } from '../domain/report.js';
import type { ReplayResult } from '../app/replay.js';
import type { CheckRun } from '../app/check.js';

export function groupThousands(text: string): string {
  const neg = text.startsWith('-');
  const body = neg ? text.slice(1) : text;
  const [int = '', frac] = body.split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${neg ? '-' : ''}${grouped}${frac === undefined ? '' : `.${frac}`}`;
}

/** A decimal for display: `scale` places, grouped; `—` for null (unpriced). */
export function money(text: string | null, scale = 2): string {
  if (text === null) return '—';
  return groupThousands(Dec.of(text).toFixedScale(scale));
}

/** A quantity: up to 8 places, trailing zeros dropped, grouped. */
export function quantity(text: string): string {
  return groupThousands(Dec.of(text).round(8).toString());
}

interface Style {
  readonly color: boolean;
}

function paint(text: string, cell: string | null, style: Style): string {
  if (!style.color || cell === null) return text;
  const d = Dec.of(cell);
  if (d.isNeg()) return `\x1b[31m${text}\x1b[0m`;
  if (d.isPos()) return `\x1b[32m${text}\x1b[0m`;
  return text;
}

/** Renders rows as a table; `right` marks the numeric columns; `signed` the ones coloured by sign. */
function table(headers: string[], rows: { cells: string[]; raw: (string | null)[] }[], right: boolean[], signed: boolean[], style: Style): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i]!.length)));
  const fmt = (cells: string[], raw?: (string | null)[]): string =>
    cells
      .map((c, i) => {
        const padded = right[i] === true ? c.padStart(widths[i]!) : c.padEnd(widths[i]!);
        return raw !== undefined && signed[i] === true ? paint(padded, raw[i] ?? null, style) : padded;
      })
      .join('  ')
      .trimEnd();
  return [fmt(headers), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map((r) => fmt(r.cells, r.raw))].join('\n');
}

export function renderReport(result: ReplayResult, style: Style): string {
  const r: Report = result.report;
  const out: string[] = [];
  const head = `UTL replay: ${result.counts.events} events, ${result.counts.rejected} rejected, ${result.counts.duplicates} duplicates` + (r.asOf === null ? '' : `, as of ${r.asOf}`);
  out.push(head, '');
  out.push(`Positions (${r.reporting})`);
  const posRows = r.positions.map((p) => {
    const raw = [null, null, null, p.qty, p.avgPrice, p.mark, p.value, p.realizedPnl, p.unrealizedPnl, p.fees, p.funding, p.totalPnl];
    return {
      cells: [
        p.book,
        p.asset,
        p.venue ?? Object.keys(p.byVenue).join(','),
        quantity(p.qty),
        p.avgPrice === null ? '' : money(p.avgPrice, 4),
        money(p.mark, 4),
        money(p.value),
        money(p.realizedPnl),
        money(p.unrealizedPnl),
        money(p.fees),
        money(p.funding),
        money(p.totalPnl),
      ],
      raw,
    };
  });
  out.push(
    table(
      ['book', 'asset', 'venues', 'qty', 'avg cost', 'mark', 'value', 'realized', 'unrealized', 'fees', 'funding', 'total PnL'],
      posRows,
      [false, false, false, true, true, true, true, true, true, true, true, true],
      [false, false, false, false, false, false, false, true, true, false, true, true],
      style,
    ),
  );
  out.push('', `Books (${r.reporting})`);
  out.push(
    table(
      ['book', 'method', 'fees', 'realized', 'unrealized', 'fees paid', 'funding', 'total PnL', 'unpriced'],
      r.books.map((b) => ({
        cells: [b.book, b.method, b.fees, money(b.realizedPnl), money(b.unrealizedPnl), money(b.feesPaid), money(b.funding), money(b.totalPnl), b.unpriced.join(',')],
        raw: [null, null, null, b.realizedPnl, b.unrealizedPnl, null, b.funding, b.totalPnl, null],
      })),
      [false, false, false, true, true, true, true, true, false],
      [false, false, false, true, true, false, true, true, false],
      style,
    ),
  );
  const e = r.exposure;
  out.push('', `Exposure (${e.reporting}): firm net ${money(e.firm.net)}, gross ${money(e.firm.gross)}${e.firm.unpriced.length > 0 ? `, unpriced: ${e.firm.unpriced.join(', ')}` : ''}`);
  out.push(
    table(
      ['asset', 'net qty', 'value'],
      e.byAsset.map((a) => ({ cells: [a.asset, quantity(a.qty), money(a.value)], raw: [null, null, a.value] })),
      [false, true, true],
      [false, false, true],
      style,
    ),
  );
  out.push('');
  out.push(
    table(
      ['venue', 'held', 'net', 'gross'],
      e.byVenue.map((v) => ({ cells: [v.venue, money(v.held), money(v.net), money(v.gross)], raw: [null, v.held, v.net, null] })),
      [false, true, true, true],
      [false, false, true, false],
      style,
    ),
  );
  if (result.rejected.length > 0) {
    out.push('', `Rejected (${result.rejected.length}):`);
    const files = new Set(result.rejected.map((x) => x.file));
    for (const x of result.rejected.slice(0, 20)) {
      const where = `${files.size > 1 && x.file !== '' ? `${x.file}:` : ''}${x.line === null ? '' : `line ${x.line} `}`;
      out.push(`  ${where}${x.code}: ${x.message}`);
    }
    if (result.rejected.length > 20) out.push(`  … and ${result.rejected.length - 20} more (use --json for all)`);
  }
  out.push('', `digest ${result.digest}`);
  return out.join('\n');
}

/** `utl check` for people: breaks with their explanation, transfers, trades, checks, the verdict. */
export function renderCheck(run: CheckRun): string {
  const lines: string[] = [];
  const c = run.replay.counts;
  lines.push(`UTL check: ${c.events} events, ${c.rejected} rejected; ${run.reports} venue balance reports`);
  const active = run.breaks.filter((b) => b.status === 'open' || b.status === 'acknowledged');
  lines.push('', `Breaks: ${active.length} open, ${run.breaks.length - active.length} closed`);
  for (const b of run.breaks) {
    const value = b.value === null ? 'unpriced' : `${money(b.value)} ${b.reporting}`;
    lines.push(`  ${b.status.padEnd(13)} ${b.id}  ${b.venue}/${b.account} ${b.asset}${b.book === null ? '' : ` (book ${b.book})`} at ${b.lastReportTs}: venue ${quantity(b.venueQty)}, UTL ${quantity(b.utlQty)}, diff ${quantity(b.diff)} (${value})`);
    if (b.status === 'open' || b.status === 'acknowledged') {
      const ex = b.explanation;
      lines.push(`      since ${ex.sinceTs ?? 'the start'}: ${ex.count} movement(s), net ${quantity(ex.net)}${ex.complete ? '' : ' (older ones not held)'}`);
      for (const s of ex.suggestions) lines.push(`      → ${s.cause}: ${s.message}`);
    }
  }
  const t = run.transfers;
  lines.push('', `Transfers: ${t.matched.length} matched, ${t.inTransit.length} in transit, ${t.breaks.length} overdue, ${t.unmatchedDeposits.length} deposits with no withdrawal`);
  for (const m of t.matched) lines.push(`  matched   ${m.withdrawal} (${m.from}) → ${m.deposit} (${m.to}): sent ${quantity(m.sent)} ${m.asset}, received ${quantity(m.received)}, fee ${quantity(m.fee)}, ${m.transitSeconds} s`);
  for (const f of t.breaks) lines.push(`  OVERDUE   ${f.id} ${f.venue} ${quantity(f.qty)} ${f.asset} at ${f.ts}: no deposit after ${f.ageSeconds} s`);
  for (const f of t.inTransit) lines.push(`  in transit ${f.id} ${f.venue} ${quantity(f.qty)} ${f.asset} at ${f.ts}`);
  if (run.trades !== undefined) {
    const r = run.trades;
    lines.push('', `Trades at ${r.venue} (${r.window.from ?? '…'} to ${r.window.to ?? '…'}): ${r.venueTrades} at the venue, ${r.utlTrades} booked, ${r.matched} matched`);
    for (const x of r.missingInUtl) lines.push(`  missing in UTL      ${x.venueTradeId} ${x.ts} ${x.side} ${x.qty} ${x.instrument} @ ${x.price}`);
    for (const x of r.missingAtVenue) lines.push(`  missing at venue    ${x.id} ${x.ts} ${x.side} ${x.qty} ${x.instrument} @ ${x.price}`);
    for (const m of r.mismatches) lines.push(`  ${m.field.padEnd(19)} ${m.venueTradeId}: UTL ${m.utl}, venue ${m.venue}`);
    for (const d of r.duplicates) lines.push(`  duplicate (${d.side.padEnd(5)})   ${d.venueTradeId}: ${d.ids.join(', ')}`);
  }
  lines.push('', 'Checks:');
  for (const k of run.checks) {
    lines.push(`  ${k.ok ? 'ok  ' : 'FAIL'} ${k.name}: ${k.detail}`);
    if (!k.ok) for (const f of k.failures.slice(0, 10)) lines.push(`       ${f}`);
  }
  lines.push('', run.ok ? 'All reconciled.' : 'NOT reconciled: see above.');
  return lines.join('\n');
}
