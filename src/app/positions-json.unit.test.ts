import { describe, expect, it } from 'vitest';
import type { PositionReport } from '../domain/report.js';
import { positionsBody, withPositions } from './positions-json.js';

const position = (asset: string, extra: Partial<PositionReport> = {}): PositionReport => ({
  book: 'b1', asset, kind: 'spot', method: 'fifo', qty: '1.5', costBasis: '150', avgPrice: '100', mark: '110', value: '165', realizedPnl: '0',
  unrealizedPnl: '15', fees: '0.1', funding: '0', totalPnl: '14.9', byVenue: { v1: '1.5' }, ...extra,
});

describe('withPositions', () => {
  it('is JSON.stringify({ ...head, positions }), byte for byte', () => {
    const positions = [position('BTC'), position('ÉTH', { venue: 'v1', mark: null, value: null, unrealizedPnl: null, totalPnl: null }), position('X"Y\\Z', { lots: [{ qty: '1', cost: '2', acquired: '2026-01-01T00:00:00.000Z', seq: 3 }] })];
    for (const head of [{ asOf: null, reporting: 'USD', seq: 42 }, {}, { book: 'b1', seq: 7, at: '2026-01-01T00:00:00.000Z', summary: undefined }]) {
      for (const ps of [positions, [], positions.slice(1, 2)]) {
        expect(withPositions(head, ps).toString('utf8')).toBe(JSON.stringify({ ...head, positions: ps }));
      }
    }
  });

  it('in chunks (positionsBody): the same bytes, chunks of at least 64 KiB but the last, the length given', () => {
    const many = Array.from({ length: 2000 }, (_, i) => position(`A${i}`));
    for (const ps of [many, many.slice(0, 1), []]) {
      const head = { asOf: null, reporting: 'USD', seq: 1 };
      const body = positionsBody(head, ps);
      const whole = Buffer.concat(body.chunks);
      expect(whole.toString('utf8')).toBe(JSON.stringify({ ...head, positions: ps }));
      expect(body.length).toBe(whole.length);
      for (const c of body.chunks.slice(0, -1)) expect(c.length).toBeGreaterThanOrEqual(64 * 1024);
    }
    expect(positionsBody({}, many).chunks.length).toBeGreaterThan(1);
  });

  it('is undefined when longer than maxBytes, and whole when not', () => {
    const ps = [position('BTC'), position('ETH')];
    const length = Buffer.byteLength(JSON.stringify({ seq: 1, positions: ps }));
    expect(withPositions({ seq: 1 }, ps, length - 1)).toBeUndefined();
    expect(withPositions({ seq: 1 }, ps, length)!.toString()).toBe(JSON.stringify({ seq: 1, positions: ps }));
    expect(withPositions({ seq: 1 }, ps, undefined)!.length).toBe(length);
  });

  it('gives the same bytes for the same objects again (their text is kept)', () => {
    const ps = [position('BTC'), position('ETH')];
    const a = withPositions({ seq: 1 }, ps);
    const b = withPositions({ seq: 1 }, ps);
    expect(b.equals(a)).toBe(true);
    expect(withPositions({ seq: 2 }, [ps[1]!, ps[0]!]).toString()).toBe(JSON.stringify({ seq: 2, positions: [ps[1], ps[0]] }));
  });
});
