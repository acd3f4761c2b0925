/**
 * Per-book settings files: valid ones give the overrides; invalid ones list every problem with its
 * path, none silently ignored.
 */
import { describe, expect, it } from 'vitest';
import { parseBooksFile } from './config.js';

describe('parseBooksFile', () => {
  it('reads each book\'s overrides', () => {
    expect(parseBooksFile('{"books":{"otc":{"method":"hifo","fees":"capitalise"},"treasury":{"pool":"venue"}}}')).toEqual({
      ok: true,
      books: { otc: { method: 'hifo', fees: 'capitalise' }, treasury: { pool: 'venue' } },
    });
  });

  it('lists every problem, each with its path', () => {
    const r = parseBooksFile('{"books":{"otc":{"method":"hifo2","x":1},"bad name":{}},"y":2}');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems).toEqual([
        'y: unknown field (only "books")',
        'books.otc.method: expected one of fifo, lifo, hifo, wac, got "hifo2"',
        'books.otc.x: unknown setting (method, fees or pool)',
        'books.bad name: not a book name',
      ]);
    }
  });

  it('refuses what is not the expected shape', () => {
    expect(parseBooksFile('not json').ok).toBe(false);
    expect(parseBooksFile('[]').ok).toBe(false);
    expect(parseBooksFile('{"books":[]}').ok).toBe(false);
    expect(parseBooksFile('{"books":{"b":"fifo"}}')).toEqual({ ok: false, problems: ['books.b: expected an object of settings'] });
  });
});
