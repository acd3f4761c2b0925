import { describe, expect, it } from 'vitest';
import { sqlGuardOn } from './sql.js';

describe('the server transaction guard', () => {
  it('is on under the tests and with UTL_SQL_GUARD=1, off otherwise', () => {
    expect(sqlGuardOn({})).toBe(false);
    expect(sqlGuardOn({ UTL_SQL_GUARD: '1' })).toBe(true);
    expect(sqlGuardOn({ VITEST: 'true' })).toBe(true);
    expect(sqlGuardOn({ VITEST: 'true', UTL_SQL_GUARD: '0' })).toBe(false);
    expect(sqlGuardOn({ UTL_SQL_GUARD: '0' })).toBe(false);
    // The suite this runs in has it on: the guard's own tests (sql.int.test.ts) see the real thing.
    expect(sqlGuardOn()).toBe(true);
  });
});
