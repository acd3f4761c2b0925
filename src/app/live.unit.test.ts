/** The live hub's protocol on fake peers and a fake clock: coalescing, the seq chain, the bounds. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PositionReport, Report } from '../domain/report.js';
import type { PositionRef } from './book-diff.js';
import { LiveHub, type LivePeer, type LiveState } from './live.js';
import type { BookUpdate } from './service.js';

type Msg = { type: string; book?: string; seq?: number; prevSeq?: number; code?: string; positions?: { asset: string; qty: string }[]; removed?: PositionRef[] };

function fakePeer(): LivePeer & { msgs: Msg[]; buffered: number; closed: { code: number; reason: string } | undefined } {
  const p = {
    msgs: [] as Msg[],
    buffered: 0,
    closed: undefined as { code: number; reason: string } | undefined,
    send: (t: string) => void p.msgs.push(JSON.parse(t) as Msg),
    bufferedBytes: () => p.buffered,
    ping: () => undefined,
    close: (code: number, reason: string) => void (p.closed = { code, reason }),
  };
  return p;
}

const state: LiveState = {
  stats: { lastSeq: 5 },
  ledger: { bookNames: () => ['mm', 'otc'] },
  report: (o) => ({ positions: [], books: (o.books ?? []).map((book) => ({ book })) }) as unknown as Report,
};
const update = (book: string, seq: number, prevSeq = seq - 1, changed: PositionReport[] = [], removed: PositionRef[] = []): BookUpdate => ({ book, seq, prevSeq, at: 'x', summary: undefined, positions: changed, changed, removed });
const pos = (asset: string, qty: string): PositionReport => ({ book: 'mm', asset, kind: 'spot', qty }) as unknown as PositionReport;

describe('LiveHub', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('coalesces a burst into one delta per 100 ms, latest state wins, prevSeq chained', () => {
    const hub = new LiveHub(state, {}, () => Date.now());
    const peer = fakePeer();
    hub.open(peer)!.receive('{"op":"subscribe","books":["mm"]}');
    expect(peer.msgs).toEqual([expect.objectContaining({ type: 'snapshot', book: 'mm', seq: 5 })]);
    for (let seq = 6; seq <= 30; seq++) {
      hub.publish(update('mm', seq));
      hub.publish(update('otc', seq));
      vi.advanceTimersByTime(10);
    }
    vi.advanceTimersByTime(200);
    const deltas = peer.msgs.filter((m) => m.type === 'delta');
    expect(deltas.length).toBeLessThanOrEqual(4); // 250 ms + the tail: 100 ms apart
    expect(deltas.at(-1)!.seq).toBe(30);
    let prev = 5;
    for (const d of deltas) {
      expect(d.prevSeq).toBe(prev);
      prev = d.seq!;
    }
    expect(peer.msgs.some((m) => m.book === 'otc')).toBe(false);
    hub.publish(update('mm', 30)); // not newer: dropped
    vi.advanceTimersByTime(200);
    expect(peer.msgs.filter((m) => m.type === 'delta').length).toBe(deltas.length);
    hub.close();
  });

  it('a delta carries what changed since the message before: updates in between merged, the latest report of each position, those gone', () => {
    const hub = new LiveHub(state, {}, () => Date.now());
    const peer = fakePeer();
    hub.open(peer)!.receive('{"op":"subscribe","books":["mm"]}');
    vi.advanceTimersByTime(100);
    hub.publish(update('mm', 6, 5, [pos('BTC', '1'), pos('ETH', '2')]));
    expect(peer.msgs.at(-1)).toMatchObject({ type: 'delta', seq: 6, prevSeq: 5, positions: [{ asset: 'BTC', qty: '1' }, { asset: 'ETH', qty: '2' }], removed: [] });
    // Within the next 100 ms: BTC twice, ETH gone, SOL gone and back, XRP new then gone.
    hub.publish(update('mm', 7, 6, [pos('BTC', '1.5'), pos('XRP', '3')], [{ asset: 'SOL', kind: 'spot' }]));
    hub.publish(update('mm', 8, 7, [pos('BTC', '2'), pos('SOL', '4')], [{ asset: 'ETH', kind: 'spot' }, { asset: 'XRP', kind: 'spot' }]));
    expect(peer.msgs.filter((m) => m.type === 'delta')).toHaveLength(1);
    vi.advanceTimersByTime(100);
    const d = peer.msgs.at(-1)!;
    expect(d).toMatchObject({ type: 'delta', seq: 8, prevSeq: 6 });
    expect(d.positions!.map((p) => `${p.asset}=${p.qty}`).sort()).toEqual(['BTC=2', 'SOL=4']);
    expect(d.removed!.map((r) => r.asset).sort()).toEqual(['ETH', 'XRP']);
    // The service's chain broken (an update whose changes start after what the session holds): a snapshot.
    vi.advanceTimersByTime(100);
    hub.publish(update('mm', 12, 10, [pos('BTC', '9')]));
    vi.advanceTimersByTime(100);
    expect(peer.msgs.at(-1)).toMatchObject({ type: 'snapshot', book: 'mm', seq: 5 });
    hub.close();
  });

  it('a resync loop is coalesced: at most one snapshot per book per 100 ms, and the last ask is answered', () => {
    let reports = 0;
    const counting: LiveState = { ...state, report: (o) => (reports++, state.report(o)) };
    const hub = new LiveHub(counting, {}, () => Date.now());
    const peer = fakePeer();
    const session = hub.open(peer)!;
    session.receive('{"op":"subscribe","books":["mm"]}');
    for (let i = 0; i < 200; i++) {
      session.receive('{"op":"resync","book":"mm"}');
      vi.advanceTimersByTime(1);
    }
    vi.advanceTimersByTime(200);
    const snapshots = peer.msgs.filter((m) => m.type === 'snapshot');
    // 200 asks over 200 ms: the first snapshot, then one per 100 ms (and the last ask's).
    expect(snapshots.length).toBeGreaterThanOrEqual(2);
    expect(snapshots.length).toBeLessThanOrEqual(4);
    expect(reports).toBe(snapshots.length);
    // After a resync snapshot, deltas chain from its seq.
    hub.publish(update('mm', 9, 5));
    vi.advanceTimersByTime(200);
    expect(peer.msgs.at(-1)).toMatchObject({ type: 'delta', seq: 9, prevSeq: 5 });
    hub.close();
  });

  it('drops a peer over its byte bound (1013) and goes on with the others', () => {
    const hub = new LiveHub(state, { maxBufferedBytes: 1000 }, () => Date.now());
    const slow = fakePeer();
    const ok = fakePeer();
    hub.open(slow)!.receive('{"op":"subscribe","books":"*"}');
    hub.open(ok)!.receive('{"op":"subscribe","books":"*"}');
    slow.buffered = 5000;
    vi.advanceTimersByTime(100);
    hub.publish(update('mm', 6));
    expect(slow.closed).toEqual({ code: 1013, reason: 'slow consumer: too many bytes unsent' });
    expect(hub.stats).toMatchObject({ sessions: 1, droppedSlow: 1 });
    expect(ok.msgs.at(-1)).toMatchObject({ type: 'delta', book: 'mm', seq: 6, prevSeq: 5 });
    hub.close();
  });

  it('closes a silent peer at the second heartbeat, and a full hub refuses one more', () => {
    const hub = new LiveHub(state, { heartbeatMs: 1000, maxSessions: 1 }, () => Date.now());
    const peer = fakePeer();
    hub.open(peer);
    const extra = fakePeer();
    expect(hub.open(extra)).toBeUndefined();
    expect(extra.closed?.code).toBe(1013);
    vi.advanceTimersByTime(1000);
    expect(peer.msgs).toEqual([expect.objectContaining({ type: 'heartbeat', seq: 5 })]);
    vi.advanceTimersByTime(1000);
    expect(peer.closed?.code).toBe(4408);
    expect(hub.stats).toMatchObject({ sessions: 0, droppedSilent: 1 });
  });
});
