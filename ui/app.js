// The UTL dashboard (docs/dashboard.md): one ES module, no framework, no build step. It reads the
// public API only: the WebSocket (GET /ws) for positions and book summaries, live; GET /exposure,
// /breaks, /alerts, /rejected and /unbooked by polling; GET /positions?book=&asset= for a row's
// detail.
//
// Invariants:
// - Money is never a JS number on its way to the screen: decimals arrive as strings and are
//   rounded and grouped as text (fmtDec). Sums (the firm total) are exact, in BigInt units. A
//   number is made only for geometry (a bar's length, a point's height), never for a label.
// - The sign of a figure is its leading '-'; a null value or mark is shown as "unpriced", never 0.
// - DOM writes happen in one requestAnimationFrame callback per frame (render), and a cell is
//   written only when its text or class changed; rows are keyed (book|asset|venue) and reused.

// ---------------------------------------------------------------------------------------------
// Decimal strings: format, add, compare. Pure: exported for the tests (test/e2e/dashboard).

const DECIMAL_RE = /^[-+]?\d+(\.\d+)?$/;

/** "9" → "10", "0499" → "0500": one added to a string of digits. */
function incrementDigits(digits) {
  const d = digits.split('');
  for (let k = d.length - 1; k >= 0; k--) {
    if (d[k] !== '9') {
      d[k] = String.fromCharCode(d[k].charCodeAt(0) + 1);
      return d.join('');
    }
    d[k] = '0';
  }
  return '1' + d.join('');
}

/** A decimal string rounded half away from zero to `dp` fraction digits, as text: { neg, int, frac }. */
export function roundDec(s, dp) {
  let neg = s[0] === '-';
  const body = s[0] === '-' || s[0] === '+' ? s.slice(1) : s;
  const dot = body.indexOf('.');
  let int = (dot < 0 ? body : body.slice(0, dot)).replace(/^0+(?=\d)/, '');
  let frac = dot < 0 ? '' : body.slice(dot + 1);
  if (frac.length > dp) {
    const up = frac.charCodeAt(dp) >= 53; // '5'
    frac = frac.slice(0, dp);
    if (up) {
      const all = incrementDigits(int + frac);
      int = all.slice(0, all.length - dp);
      frac = all.slice(all.length - dp);
    }
  }
  if (/^0*$/.test(int + frac)) neg = false; // no "-0.00"
  return { neg, int, frac };
}

/**
 * A decimal string for display: thousands separators, at most `maxDp` fraction digits (rounded
 * half away from zero), trailing zeros trimmed down to `minDp`. null → "unpriced".
 */
export function fmtDec(s, maxDp, minDp = maxDp) {
  if (s === null || s === undefined) return 'unpriced';
  if (typeof s !== 'string' || !DECIMAL_RE.test(s)) return String(s);
  const r = roundDec(s, maxDp);
  let frac = r.frac;
  while (frac.length > minDp && frac.endsWith('0')) frac = frac.slice(0, -1);
  frac = frac.padEnd(minDp, '0');
  const int = r.int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return (r.neg ? '-' : '') + int + (frac.length > 0 ? '.' + frac : '');
}

export const fmtMoney = (s) => fmtDec(s, 2, 2);
export const fmtQty = (s) => fmtDec(s, 8, 0);
export const fmtPrice = (s) => fmtDec(s, 6, 2);

/** 'gain', 'loss', '' (zero once rounded to `dp`) or 'unpriced' (null), from the text alone. */
export function signClass(s, dp = 2) {
  if (s === null || s === undefined) return 'unpriced';
  if (typeof s !== 'string' || !DECIMAL_RE.test(s)) return '';
  const r = roundDec(s, dp);
  if (/^0*$/.test(r.int + r.frac)) return '';
  return r.neg ? 'loss' : 'gain';
}

/** Exact sum of decimal strings (BigInt units at the largest scale); nulls are skipped. */
export function sumDec(list) {
  let scale = 0;
  const parts = [];
  for (const s of list) {
    if (typeof s !== 'string' || !DECIMAL_RE.test(s)) continue;
    const neg = s[0] === '-';
    const body = s[0] === '-' || s[0] === '+' ? s.slice(1) : s;
    const [int, frac = ''] = body.split('.');
    parts.push({ units: BigInt(int + frac) * (neg ? -1n : 1n), scale: frac.length });
    if (frac.length > scale) scale = frac.length;
  }
  let total = 0n;
  for (const p of parts) total += p.units * 10n ** BigInt(scale - p.scale);
  const neg = total < 0n;
  const digits = (neg ? -total : total).toString().padStart(scale + 1, '0');
  const int = digits.slice(0, digits.length - scale);
  const frac = digits.slice(digits.length - scale);
  return (neg ? '-' : '') + int + (scale > 0 ? '.' + frac : '');
}

function cmpAbs(a, b) {
  const [ai, af = ''] = a.split('.');
  const [bi, bf = ''] = b.split('.');
  const x = ai.replace(/^0+/, '');
  const y = bi.replace(/^0+/, '');
  if (x.length !== y.length) return x.length - y.length;
  if (x !== y) return x < y ? -1 : 1;
  const n = Math.max(af.length, bf.length);
  const p = af.padEnd(n, '0');
  const q = bf.padEnd(n, '0');
  return p < q ? -1 : p > q ? 1 : 0;
}

/** Compares two decimal strings exactly, as text; null (unpriced) sorts first. */
export function cmpDec(a, b) {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : -1;
  if (b === null || b === undefined) return 1;
  const na = a[0] === '-';
  const nb = b[0] === '-';
  if (na !== nb) return na ? -1 : 1;
  const r = cmpAbs(na ? a.slice(1) : a, nb ? b.slice(1) : b);
  return na ? -r : r;
}

/** 42_000 → "42s", 300_000 → "5m", 7_200_000 → "2h", 3 days → "3d". */
export function fmtAge(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

// ---------------------------------------------------------------------------------------------
// The API: a key from localStorage when the service asks for one.

const TOKEN_KEY = 'utl.token';
const POLL_EXPOSURE_MS = 3000;
const POLL_PNL_MS = 15000;
const POLL_BREAKS_MS = 4000;
const POLL_ALERTS_MS = 5000;
const POLL_EVENTS_MS = 10000;
const RECONNECT_MS_MAX = 10000;
const CHART_POINTS_MAX = 3000;
const BARS_MAX = 12;
// Polled lists show this many rows at most: a thousand alerts (one stale mark per asset) laid out
// as a table cost 250 ms a poll; the count says how many more there are.
const LIST_ROWS_MAX = 100;

class Unauthorized extends Error {}

function token() {
  return localStorage.getItem(TOKEN_KEY) ?? '';
}

async function api(path) {
  const t = token();
  const r = await fetch(path, { headers: t === '' ? {} : { authorization: `Bearer ${t}` } });
  if (r.status === 401) {
    showLogin(t === '' ? '' : 'that key was refused (unknown, malformed or revoked)');
    throw new Unauthorized(path);
  }
  if (r.status === 403) return { forbidden: true };
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

function $(id) {
  return document.getElementById(id);
}

function showLogin(message) {
  $('login').hidden = false;
  $('login-error').textContent = message;
  $('token').focus();
}

// ---------------------------------------------------------------------------------------------
// State, fed by the WebSocket and the polls; render() turns it into DOM once per frame.

const state = {
  books: new Map(), // book → { seq, summary, positions }
  lastSeq: new Map(), // book → seq last kept (for prevSeq)
  reporting: '',
  firm: [], // { t, total (string), y (number, geometry only) }
  sort: { key: 'book', desc: false },
  filter: '',
  selected: '', // row key
  dirty: { positions: false, pnl: false, chart: false },
  periodStarts: new Map(), // book → { today, mtd, ytd }: its total PnL before each period (GET /pnl)
  periodSources: undefined, // GET /pnl's periods: where each baseline came from
  frame: 0,
  stats: { renders: 0, renderMsMax: 0, messageMsMax: 0 }, // for bench/dashboard.ts
};

function schedule(part) {
  state.dirty[part] = true;
  if (state.frame === 0) state.frame = requestAnimationFrame(render);
}

function render() {
  const t0 = performance.now();
  state.frame = 0;
  if (state.dirty.positions) renderPositions();
  if (state.dirty.pnl) {
    renderPnl();
    recordFirmTotal();
  }
  if (state.dirty.chart) renderChart();
  state.dirty = { positions: false, pnl: false, chart: false };
  const ms = performance.now() - t0;
  state.stats.renders++;
  if (ms > state.stats.renderMsMax) state.stats.renderMsMax = ms;
}

// ---------------------------------------------------------------------------------------------
// Positions grid: keyed rows, cells written only when changed, order changed only when needed.

const COLS = [
  { key: 'book', label: 'book', get: (p) => p.book },
  { key: 'asset', label: 'asset', get: (p) => p.asset },
  { key: 'venues', label: 'venues', get: (p) => Object.keys(p.byVenue ?? {}).join(', ') },
  { key: 'qty', label: 'qty', num: true, fmt: fmtQty, signed: false },
  { key: 'avgPrice', label: 'avg cost', num: true, fmt: fmtPrice, signed: false },
  { key: 'mark', label: 'mark', num: true, fmt: fmtPrice, signed: false },
  { key: 'value', label: 'value', num: true, fmt: fmtMoney, signed: false },
  { key: 'realizedPnl', label: 'realized', num: true, fmt: fmtMoney, signed: true },
  { key: 'unrealizedPnl', label: 'unrealized', num: true, fmt: fmtMoney, signed: true },
  { key: 'fees', label: 'fees', num: true, fmt: fmtMoney, signed: false },
  { key: 'funding', label: 'funding', num: true, fmt: fmtMoney, signed: true },
  { key: 'totalPnl', label: 'total PnL', num: true, fmt: fmtMoney, signed: true },
];

// Only the rows in view (plus a margin) are in the DOM, between two spacer rows that keep the
// scroll height: with 1,000 rows changing ten times a second, the browser lays out a few dozen
// rows, not a thousand (a 1,000-row table took 80–280 ms to lay out per update; see
// docs/dashboard.md). Rows are kept by key, built once, and their cells written only on change.
const ROW_H_PX = 24;
const OVERSCAN_ROWS = 8;

const rows = new Map(); // key → { key, tr, tds, texts, classes, p, search, selected }
let order = []; // rows passing the filter, sorted
let orderDirty = true;
let shown = []; // rows in the DOM now, in order
const spacers = { top: null, bottom: null, topPx: -1, bottomPx: -1 };

const rowKey = (p) => `${p.book}|${p.asset}|${p.venue ?? ''}`;

function cellOf(col, p) {
  if (!col.num) return { text: col.get(p), cls: '' };
  const v = p[col.key];
  // A value or mark missing is unpriced; a missing fee or funding figure is simply absent.
  if (v === null || v === undefined) return { text: 'unpriced', cls: 'num unpriced' };
  return { text: col.fmt(v), cls: col.signed ? `num ${signClass(v)}` : 'num' };
}

function makeRow(key) {
  return { key, tr: null, tds: null, texts: COLS.map(() => null), classes: COLS.map(() => null), p: null, search: '', selected: false };
}

/** Writes the cells of a row in view whose text or class changed (building its <tr> the first time). */
function paintRow(row) {
  if (row.tr === null) {
    row.tr = document.createElement('tr');
    row.tr.dataset.key = row.key;
    row.tds = COLS.map(() => row.tr.appendChild(document.createElement('td')));
  }
  for (let i = 0; i < COLS.length; i++) {
    const c = cellOf(COLS[i], row.p);
    if (row.texts[i] !== c.text) {
      row.tds[i].textContent = c.text;
      row.texts[i] = c.text;
    }
    if (row.classes[i] !== c.cls) {
      row.tds[i].className = c.cls;
      row.classes[i] = c.cls;
    }
  }
  const selected = row.key === state.selected;
  if (row.selected !== selected) {
    row.tr.classList.toggle('selected', selected);
    row.selected = selected;
  }
}

function compareRows(a, b) {
  const col = COLS.find((c) => c.key === state.sort.key) ?? COLS[0];
  let r;
  if (col.num) r = cmpDec(a.p[col.key] ?? null, b.p[col.key] ?? null);
  else {
    const x = col.get(a.p);
    const y = col.get(b.p);
    r = x < y ? -1 : x > y ? 1 : 0;
  }
  if (r === 0) r = a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  return state.sort.desc ? -r : r;
}

function spacer() {
  const tr = document.createElement('tr');
  tr.className = 'spacer';
  tr.appendChild(document.createElement('td')).colSpan = COLS.length;
  return tr;
}

function setSpacer(which, px) {
  if (spacers[`${which}Px`] === px) return;
  spacers[`${which}Px`] = px;
  spacers[which].style.height = `${px}px`;
  spacers[which].hidden = px === 0;
}

function renderPositions() {
  // Reads first (the scroll position), then writes: no forced layout in between.
  const scroller = $('positions').parentElement;
  const scrollTop = scroller.scrollTop;
  const viewRows = Math.ceil(scroller.clientHeight / ROW_H_PX) + 1;
  if (orderDirty) {
    const seen = new Set();
    for (const b of state.books.values()) {
      for (const p of b.positions) {
        const key = rowKey(p);
        seen.add(key);
        let row = rows.get(key);
        if (row === undefined) {
          row = makeRow(key);
          rows.set(key, row);
        }
        if (row.p !== p) {
          row.p = p;
          row.search = `${p.book} ${p.asset} ${Object.keys(p.byVenue ?? {}).join(' ')}`.toLowerCase();
        }
      }
    }
    for (const key of rows.keys()) if (!seen.has(key)) rows.delete(key);
    const f = state.filter;
    order = [...rows.values()].filter((r) => f === '' || r.search.includes(f)).sort(compareRows);
    orderDirty = false;
    $('pos-count').textContent = `${order.length} of ${rows.size}`;
  }
  const start = Math.max(0, Math.min(order.length - viewRows, Math.floor(scrollTop / ROW_H_PX) - OVERSCAN_ROWS));
  const end = Math.min(order.length, start + viewRows + 2 * OVERSCAN_ROWS);
  const want = order.slice(start, end);
  for (const row of want) paintRow(row);
  setSpacer('top', start * ROW_H_PX);
  setSpacer('bottom', (order.length - end) * ROW_H_PX);
  if (want.length !== shown.length || want.some((r, i) => r !== shown[i])) {
    $('positions').tBodies[0].replaceChildren(spacers.top, ...want.map((r) => r.tr), spacers.bottom);
    shown = want;
  }
  const sel = rows.get(state.selected);
  if (sel !== undefined && sel.p !== detailShown) renderDetailLive(sel.p);
}

function positionsChanged() {
  orderDirty = true;
  schedule('positions');
}

function setupGrid() {
  spacers.top = spacer();
  spacers.bottom = spacer();
  const head = $('positions').tHead.rows[0];
  for (const col of COLS) {
    const th = document.createElement('th');
    th.textContent = col.label;
    th.dataset.key = col.key;
    if (col.num) th.className = 'num';
    th.addEventListener('click', () => {
      state.sort = { key: col.key, desc: state.sort.key === col.key ? !state.sort.desc : col.num === true };
      for (const h of head.cells) h.classList.toggle('sorted', h.dataset.key === col.key);
      for (const h of head.cells) h.classList.toggle('desc', h.dataset.key === col.key && state.sort.desc);
      positionsChanged();
    });
    head.appendChild(th);
  }
  head.cells[0].classList.add('sorted');
  $('filter').addEventListener('input', (e) => {
    state.filter = e.target.value.trim().toLowerCase();
    positionsChanged();
  });
  $('positions').parentElement.addEventListener('scroll', () => schedule('positions'), { passive: true });
  $('positions').tBodies[0].addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-key]');
    if (tr === null) return;
    state.selected = tr.dataset.key;
    schedule('positions');
    void loadDetail(rows.get(tr.dataset.key)?.p);
  });
}

// ---------------------------------------------------------------------------------------------
// Position detail: GET /positions?book=&asset=(&venue=), lots when the API gives them.

const DETAIL_FIELDS = [
  ['kind', null], ['method', null], ['qty', fmtQty], ['costBasis', fmtMoney], ['avgPrice', fmtPrice], ['mark', fmtPrice],
  ['value', fmtMoney], ['realizedPnl', fmtMoney], ['unrealizedPnl', fmtMoney], ['fees', fmtMoney], ['funding', fmtMoney], ['totalPnl', fmtMoney],
];

function table(head, allRows, max = Infinity) {
  const body = allRows.length > max ? allRows.slice(0, max) : allRows;
  const t = document.createElement('table');
  t.className = 'grid';
  const hr = t.createTHead().insertRow();
  for (const [text, num, title] of head) {
    const th = document.createElement('th');
    th.textContent = text;
    if (num) th.className = 'num';
    if (title) th.title = title;
    hr.appendChild(th);
  }
  const tb = t.createTBody();
  if (body.length === 0) {
    const td = tb.insertRow().insertCell();
    td.colSpan = head.length;
    td.className = 'none';
    td.textContent = 'none';
  }
  for (const cells of body) {
    const tr = tb.insertRow();
    for (const c of cells) {
      const td = tr.insertCell();
      if (c.strong) td.appendChild(document.createElement('b')).textContent = c.strong;
      td.appendChild(document.createTextNode(c.text));
      if (c.cls) td.className = c.cls;
      if (c.title) td.title = c.title;
    }
  }
  if (allRows.length > body.length) {
    const td = tb.insertRow().insertCell();
    td.colSpan = head.length;
    td.className = 'none';
    td.textContent = `… and ${allRows.length - body.length} more (the first ${body.length} shown)`;
  }
  return t;
}

function renderDetail(p, lots) {
  detailShown = p;
  $('detail-title').textContent = `${p.book} · ${p.asset}${p.venue ? ` · ${p.venue}` : ''}`;
  const fields = DETAIL_FIELDS.filter(([k]) => k in p).map(([k, f]) => [
    { text: k },
    { text: f === null ? String(p[k]) : f(p[k]), cls: f === null ? '' : `num ${k.endsWith('Pnl') ? signClass(p[k]) : p[k] === null ? 'unpriced' : ''}` },
  ]);
  const venues = Object.entries(p.byVenue ?? {}).map(([v, q]) => [{ text: v }, { text: fmtQty(q), cls: 'num' }]);
  const out = [table([['field', false], ['', true]], fields), table([['venue', false], ['qty', true]], venues)];
  if (Array.isArray(lots)) {
    out.push(table([['lot acquired', false], ['seq', true], ['qty', true], ['cost', true]], lots.map((l) => [
      { text: String(l.acquired ?? '') }, { text: String(l.seq ?? ''), cls: 'num' }, { text: fmtQty(l.qty ?? null), cls: 'num' }, { text: fmtMoney(l.cost ?? null), cls: 'num' },
    ])));
  } else {
    const note = document.createElement('p');
    note.className = 'note';
    note.textContent = p.kind === 'spot' ? 'Lots: loading (GET /positions?lots=1)…' : 'Lots: a derivative position has no lots; its quantity by venue is above.';
    out.push(note);
  }
  $('detail').replaceChildren(...out);
}

let detailLots;
let detailShown = null; // the position object the detail panel shows

function renderDetailLive(p) {
  renderDetail(p, detailLots);
}

async function loadDetail(p) {
  if (p === undefined) return;
  detailLots = undefined;
  renderDetail(p, undefined);
  const q = new URLSearchParams({ book: p.book, asset: p.asset, lots: '1' });
  if (p.venue) q.set('venue', p.venue);
  try {
    const r = await api(`/positions?${q}`);
    const fresh = (r.positions ?? []).find((x) => rowKey(x) === rowKey(p));
    if (fresh !== undefined && rowKey(fresh) === state.selected) {
      detailLots = fresh.lots;
      renderDetail(fresh, detailLots);
    }
  } catch (err) {
    if (!(err instanceof Unauthorized)) console.error(err);
  }
}

// ---------------------------------------------------------------------------------------------
// PnL by book, and the firm total over time (canvas).

const PNL_FIELDS = ['realizedPnl', 'unrealizedPnl', 'feesPaid', 'funding', 'totalPnl'];
const PERIODS = ['today', 'mtd', 'ytd'];

/** `a - b` of decimal strings, exact; null when either is null. */
function subDec(a, b) {
  if (typeof a !== 'string' || typeof b !== 'string') return null;
  return sumDec([a, b[0] === '-' ? b.slice(1) : `-${b}`]);
}

/**
 * The total PnL of each book at the start of today, of the month and of the year, from GET /pnl
 * (inception total minus the period's total): the live total minus it is the period's PnL, so
 * the period columns move with every update, not with the poll.
 */
async function pollPnl() {
  const r = await api('/pnl');
  if (r.forbidden) return;
  state.periodStarts = new Map(
    r.books.map((b) => [b.book, Object.fromEntries(PERIODS.map((p) => [p, subDec(b.periods.inception.total, b.periods[p].total)]))]),
  );
  state.periodSources = r.periods;
  schedule('pnl');
}

function pnlCells(name, s, title) {
  return [
    { text: name, title },
    ...PNL_FIELDS.map((k) => ({ text: fmtMoney(s[k] ?? null), cls: `num ${k === 'feesPaid' ? '' : signClass(s[k] ?? null)}` })),
    ...PERIODS.map((p) => ({ text: fmtMoney(s[p] ?? null), cls: `num ${signClass(s[p] ?? null)}` })),
  ];
}

function renderPnl() {
  const summaries = [...state.books.values()].map((b) => b.summary).filter((s) => s !== null && s !== undefined);
  summaries.sort((a, b) => (a.book < b.book ? -1 : 1));
  const withPeriods = summaries.map((s) => {
    const starts = state.periodStarts.get(s.book);
    // A book born after the poll started at zero.
    return { ...s, ...Object.fromEntries(PERIODS.map((p) => [p, subDec(s.totalPnl, starts === undefined ? '0' : starts[p])])) };
  });
  const body = withPeriods.map((s) => pnlCells(s.book, s, s.unpriced?.length ? `unpriced: ${s.unpriced.join(', ')}` : ''));
  const firm = {
    ...Object.fromEntries(PNL_FIELDS.map((k) => [k, sumDec(withPeriods.map((s) => s[k]))])),
    // A period of an unpriced book is unknown, and so is the firm's.
    ...Object.fromEntries(PERIODS.map((p) => [p, withPeriods.some((s) => s[p] === null) ? null : sumDec(withPeriods.map((s) => s[p]))])),
  };
  body.push(pnlCells('firm', firm, 'the sum of the books'));
  const old = $('pnl');
  const since = (p) => (state.periodSources?.[p] ? `since ${state.periodSources[p].from} (${state.periodSources[p].source})` : '');
  const t = table([['book', false], ['realized', true], ['unrealized', true], ['fees', true], ['funding', true], ['total', true], ['today', true, since('today')], ['MTD', true, since('mtd')], ['YTD', true, since('ytd')]], body);
  t.id = 'pnl';
  t.tBodies[0].lastChild.style.fontWeight = '600';
  old.replaceWith(t);
}

function recordFirmTotal() {
  const summaries = [...state.books.values()].map((b) => b.summary).filter((s) => s !== null && s !== undefined);
  const total = sumDec(summaries.map((s) => s.totalPnl));
  // A number for the point's height only: the label is the string.
  state.firm.push({ t: Date.now(), total, y: Number(total) });
  if (state.firm.length > CHART_POINTS_MAX) state.firm.splice(0, state.firm.length - CHART_POINTS_MAX);
  state.dirty.chart = true;
}

const chartSize = { w: 0, h: 0 };

function renderChart() {
  const canvas = $('chart');
  const ratio = window.devicePixelRatio || 1;
  // The size from the ResizeObserver: reading clientWidth here, after the grid's writes, would
  // force a layout of the whole page inside the frame.
  const { w, h } = chartSize;
  if (w === 0 || h === 0) return;
  if (canvas.width !== Math.round(w * ratio)) canvas.width = Math.round(w * ratio);
  if (canvas.height !== Math.round(h * ratio)) canvas.height = Math.round(h * ratio);
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, w, h);
  const pts = state.firm;
  if (pts.length === 0) return;
  const last = pts[pts.length - 1];
  $('chart-last').textContent = `${fmtMoney(last.total)} ${state.reporting}`;
  let lo = pts[0];
  let hi = pts[0];
  for (const p of pts) {
    if (p.y < lo.y) lo = p;
    if (p.y > hi.y) hi = p;
  }
  const pad = { l: 8, r: 110, t: 12, b: 12 };
  const span = hi.y - lo.y || Math.abs(hi.y) || 1;
  const yMin = lo.y - span * 0.1;
  const yMax = hi.y + span * 0.1;
  const t0 = pts[0].t;
  const tSpan = Math.max(last.t - t0, 1);
  const x = (t) => pad.l + ((t - t0) / tSpan) * (w - pad.l - pad.r);
  const y = (v) => pad.t + (1 - (v - yMin) / (yMax - yMin)) * (h - pad.t - pad.b);
  g.font = '11px ui-monospace, monospace';
  g.fillStyle = '#7d8a97';
  if (yMin < 0 && yMax > 0) {
    g.strokeStyle = '#263039';
    g.beginPath();
    g.moveTo(pad.l, y(0));
    g.lineTo(w - pad.r, y(0));
    g.stroke();
  }
  g.fillText(`max ${fmtMoney(hi.total)}`, w - pad.r + 6, y(hi.y) + 4);
  g.fillText(`min ${fmtMoney(lo.total)}`, w - pad.r + 6, Math.min(y(lo.y) + 4, h - 2));
  g.strokeStyle = last.total[0] === '-' ? '#f85149' : '#3fb950';
  g.lineWidth = 1.5;
  g.beginPath();
  pts.forEach((p, i) => (i === 0 ? g.moveTo(x(p.t), y(p.y)) : g.lineTo(x(p.t), y(p.y))));
  if (pts.length === 1) g.lineTo(w - pad.r, y(last.y));
  g.stroke();
}

// ---------------------------------------------------------------------------------------------
// Exposure: horizontal bars (SVG), by asset (value) and by venue (net).

const SVG_NS = 'http://www.w3.org/2000/svg';

function svgEl(name, attrs, text) {
  const e = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function bars(target, items) {
  const rowH = 20;
  const labelW = 130;
  const valueW = 130;
  const width = 600;
  const list = [...items].sort((a, b) => -cmpDec(a.value?.replace('-', '') ?? null, b.value?.replace('-', '') ?? null)).slice(0, BARS_MAX);
  // Geometry only: the longest bar's length as a number; every label is the string.
  const max = Math.max(...list.map((i) => (i.value === null ? 0 : Math.abs(Number(i.value)))), 1);
  const zeroX = labelW + (width - labelW - valueW) / 2;
  const half = (width - labelW - valueW) / 2;
  const svg = svgEl('svg', { viewBox: `0 0 ${width} ${Math.max(list.length, 1) * rowH}`, role: 'img' });
  svg.appendChild(svgEl('line', { x1: zeroX, x2: zeroX, y1: 0, y2: list.length * rowH }));
  list.forEach((item, i) => {
    const yTop = i * rowH;
    svg.appendChild(svgEl('text', { x: 0, y: yTop + 14, class: 'label' }, item.name));
    if (item.value === null) {
      svg.appendChild(svgEl('text', { x: zeroX + 4, y: yTop + 14, class: 'unpriced' }, 'unpriced'));
      return;
    }
    const len = (Math.abs(Number(item.value)) / max) * half;
    const neg = item.value[0] === '-';
    svg.appendChild(svgEl('rect', { x: neg ? zeroX - len : zeroX, y: yTop + 4, width: Math.max(len, 1), height: rowH - 8, class: neg ? 'loss' : 'gain' }));
    svg.appendChild(svgEl('text', { x: width, y: yTop + 14, 'text-anchor': 'end' }, fmtMoney(item.value)));
  });
  target.replaceChildren(svg);
}

async function pollExposure() {
  const r = await api('/exposure');
  if (r.forbidden) return;
  const e = r.exposure;
  state.reporting = e.reporting;
  $('reporting').textContent = `(${e.reporting}) · firm net ${fmtMoney(e.firm.net)}, gross ${fmtMoney(e.firm.gross)}`;
  bars($('exp-asset'), e.byAsset.map((a) => ({ name: a.asset, value: a.value })));
  bars($('exp-venue'), e.byVenue.map((v) => ({ name: v.venue, value: v.net })));
}

// ---------------------------------------------------------------------------------------------
// Breaks, alerts, events: polled tables.

function forbiddenRow(id, cols) {
  $(id).tBodies[0].replaceChildren();
  const td = $(id).tBodies[0].insertRow().insertCell();
  td.colSpan = cols;
  td.className = 'muted';
  td.textContent = 'not shown with this key (firm-wide data needs a key for every book)';
}

async function pollBreaks() {
  const r = await api('/breaks');
  if (r.forbidden) return forbiddenRow('breaks', 9);
  $('breaks-count').textContent = `${r.total} active`;
  const body = r.items.map((b) => {
    const s = b.explanation?.suggestions?.[0];
    return [
      { text: fmtAge(b.ageMs), cls: 'num', title: `first seen ${new Date(b.firstSeenMs).toISOString()}` },
      { text: b.venue }, { text: b.account }, { text: b.asset }, { text: b.book ?? 'all books' },
      { text: fmtQty(b.diff), cls: `num ${signClass(b.diff, 8)}` },
      { text: fmtMoney(b.value), cls: `num${b.value === null ? ' unpriced' : ''}` },
      { text: b.status },
      s === undefined ? { text: 'no suggestion', cls: 'wrap cause' } : { strong: s.cause, text: s.message, cls: 'wrap cause' },
    ];
  });
  const t = table([['age', true], ['venue', false], ['account', false], ['asset', false], ['book', false], ['venue − UTL', true], ['value', true], ['status', false], ['suggested cause', false]], body, LIST_ROWS_MAX);
  $('breaks').tBodies[0].replaceWith(t.tBodies[0]);
}

async function pollAlerts() {
  const r = await api('/alerts');
  if (r.forbidden) return forbiddenRow('alerts', 5);
  $('alerts-count').textContent = `${r.firing} firing, ${r.pending} pending`;
  const body = r.items.map((a) => [
    { text: a.severity, cls: `sev-${a.severity}` }, { text: a.status }, { text: a.rule }, { text: a.summary, cls: 'wrap' },
    { text: fmtAge(Date.now() - Date.parse(a.activeSince)), cls: 'num', title: a.activeSince },
  ]);
  const t = table([['severity', false], ['status', false], ['rule', false], ['summary', false], ['since', true]], body, LIST_ROWS_MAX);
  $('alerts').tBodies[0].replaceWith(t.tBodies[0]);
}

const EVENT_TABS = {
  log: {
    path: '/events?limit=200',
    head: [['seq', true], ['ts', false], ['type', false], ['book', false], ['id', false], ['event', false]],
    cells: (i) => [{ text: String(i.seq), cls: 'num' }, { text: i.ts }, { text: i.type }, { text: i.book ?? '—' }, { text: i.id }, { text: JSON.stringify(i.event), cls: 'wrap' }],
  },
  rejected: {
    path: '/rejected?limit=200',
    head: [['id', true], ['received', false], ['code', false], ['event', false], ['message', false]],
    cells: (i) => [{ text: i.id, cls: 'num' }, { text: i.receivedAt }, { text: i.code }, { text: i.eventId ?? '—' }, { text: i.message, cls: 'wrap', title: i.raw }],
  },
  unbooked: {
    path: '/unbooked',
    head: [['book', false], ['event', false], ['ts', false], ['code', false], ['message', false]],
    cells: (i) => [{ text: i.book ?? '—' }, { text: i.id }, { text: i.ts }, { text: i.code }, { text: i.message, cls: 'wrap' }],
  },
};
let eventTab = 'rejected';
let eventItems = [];

function renderEvents() {
  const tab = EVENT_TABS[eventTab];
  const f = $('ev-filter').value.trim().toLowerCase();
  const items = f === '' ? eventItems : eventItems.filter((i) => JSON.stringify(i).toLowerCase().includes(f));
  const t = table(tab.head, items.map(tab.cells), LIST_ROWS_MAX);
  $('events').replaceChildren(t.tHead, t.tBodies[0]);
}

async function pollEvents() {
  const tab = eventTab;
  const r = await api(EVENT_TABS[tab].path);
  if (tab !== eventTab) return;
  eventItems = r.forbidden ? [] : r.items;
  renderEvents();
}

function setupEvents() {
  for (const b of document.querySelectorAll('[data-tab]')) {
    b.addEventListener('click', () => {
      eventTab = b.dataset.tab;
      for (const x of document.querySelectorAll('[data-tab]')) x.classList.toggle('on', x === b);
      eventItems = [];
      renderEvents();
      void guarded(pollEvents)();
    });
  }
  $('ev-filter').addEventListener('input', renderEvents);
}

// ---------------------------------------------------------------------------------------------
// The WebSocket: subscribe to every book; snapshot then deltas; resync on a gap; reconnect.

let socket;
let reconnectMs = 500;

function setStatus(text, cls) {
  $('status').textContent = text;
  $('status').className = `status ${cls}`;
}

/** A position's identity within its book, as a delta's `removed` names it. */
const positionId = (p) => `${p.kind}|${p.asset}|${p.venue ?? ''}`;

/** A book's positions after a delta: its positions replace those with the same identity, `removed` go. */
function mergeDelta(positions, m) {
  const gone = new Set((m.removed ?? []).map(positionId));
  const fresh = new Map(m.positions.map((p) => [positionId(p), p]));
  const out = [];
  for (const p of positions) {
    const id = positionId(p);
    if (gone.has(id)) continue;
    const f = fresh.get(id);
    if (f === undefined) out.push(p);
    else {
      out.push(f);
      fresh.delete(id);
    }
  }
  for (const p of fresh.values()) out.push(p);
  return out;
}

function onMessage(m) {
  if (m.type === 'heartbeat' || m.type === 'pong') {
    $('seq').textContent = `seq ${m.seq}`;
    return;
  }
  if (m.type === 'error') {
    console.warn('utl ws:', m.code, m.message);
    return;
  }
  if (m.type !== 'snapshot' && m.type !== 'delta') return;
  if (m.type === 'delta' && m.prevSeq !== state.lastSeq.get(m.book)) {
    socket.send(JSON.stringify({ op: 'resync', book: m.book }));
    return;
  }
  state.lastSeq.set(m.book, m.seq);
  const positions = m.type === 'snapshot' ? m.positions : mergeDelta(state.books.get(m.book)?.positions ?? [], m);
  state.books.set(m.book, { seq: m.seq, summary: m.summary, positions });
  $('seq').textContent = `seq ${m.seq}`;
  positionsChanged();
  schedule('pnl');
}

function connect() {
  const t = token();
  const url = new URL('/ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (t !== '') url.searchParams.set('token', t);
  const ws = new WebSocket(url);
  socket = ws;
  ws.onopen = () => {
    reconnectMs = 500;
    setStatus('live', 'live');
    state.lastSeq.clear();
    ws.send(JSON.stringify({ op: 'subscribe', books: '*' }));
  };
  ws.onmessage = (e) => {
    const t0 = performance.now();
    onMessage(JSON.parse(e.data));
    const ms = performance.now() - t0;
    if (ms > state.stats.messageMsMax) state.stats.messageMsMax = ms;
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    setStatus('reconnecting…', 'down');
    // The upgrade is refused with a 401 the page cannot read: ask the HTTP API why.
    void guarded(() => api('/state'))();
    setTimeout(connect, reconnectMs);
    reconnectMs = Math.min(reconnectMs * 2, RECONNECT_MS_MAX);
  };
}

// ---------------------------------------------------------------------------------------------
// Start-up.

/** A poll that reports its failure to the console and never stops the others. */
function guarded(fn) {
  return async () => {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof Unauthorized)) console.error(err);
    }
  };
}

function every(ms, fn) {
  const g = guarded(fn);
  void g();
  setInterval(() => void (document.hidden ? undefined : g()), ms);
}

function setupLogin() {
  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    localStorage.setItem(TOKEN_KEY, $('token').value.trim());
    $('login').hidden = true;
    $('logout').hidden = false;
    socket?.close();
    for (const f of [pollExposure, pollPnl, pollBreaks, pollAlerts, pollEvents]) void guarded(f)();
  });
  $('logout').hidden = token() === '';
  $('logout').addEventListener('click', () => {
    localStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
}

function main() {
  setupGrid();
  setupEvents();
  setupLogin();
  window.utlDashboard = { stats: state.stats, rows: () => rows.size };
  connect();
  every(POLL_EXPOSURE_MS, pollExposure);
  every(POLL_PNL_MS, pollPnl);
  every(POLL_BREAKS_MS, pollBreaks);
  every(POLL_ALERTS_MS, pollAlerts);
  every(POLL_EVENTS_MS, pollEvents);
  new ResizeObserver(([e]) => {
    chartSize.w = e.contentRect.width;
    chartSize.h = e.contentRect.height;
    schedule('chart');
  }).observe($('chart'));
}

if (typeof document !== 'undefined') main();
