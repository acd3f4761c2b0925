/**
 * Tidy checks that keep the code base honest: the error catalogue and docs/errors.md list the same
 * codes; the domain core imports nothing outside itself and touches no clock, randomness or I/O;
 * no focused or skipped tests are committed.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_CODES } from '../src/domain/errors.js';

const ROOT = new URL('..', import.meta.url).pathname;

function files(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p, suffix));
    else if (name.endsWith(suffix)) out.push(p);
  }
  return out;
}

describe('tidy', () => {
  it('docs/errors.md documents exactly the codes in the catalogue', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
    const documented = new Set([...doc.matchAll(/^\|\s*`([A-Z_]+)`\s*\|/gm)].map((m) => m[1]!));
    expect([...documented].sort()).toEqual(Object.keys(ALL_CODES).sort());
  });

  it('the domain core imports only from itself and uses no clock, randomness, environment or console', () => {
    const domain = join(ROOT, 'src', 'domain');
    for (const f of files(domain, '.ts').filter((x) => !x.endsWith('.test.ts'))) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)) {
        // Relative, and resolving inside src/domain (its sub-folders may import the core's modules).
        const inside = m[1]!.startsWith('.') && join(dirname(f), m[1]!).startsWith(domain + '/');
        expect(inside, `${relative(ROOT, f)} imports ${m[1]}`).toBe(true);
      }
      expect(/\b(Date\.now|new Date|Math\.random|process\.|console\.|setTimeout|setInterval)\b/.test(text), `${relative(ROOT, f)} touches the outside world`).toBe(false);
    }
  });

  it('no test is focused or skipped', () => {
    for (const dir of ['src', 'test']) {
      for (const f of files(join(ROOT, dir), '.test.ts')) {
        const text = readFileSync(f, 'utf8');
        expect(/\b(it|describe|test)\.(only|skip|todo)\(/.test(text), `${relative(ROOT, f)} has .only/.skip/.todo`).toBe(false);
      }
    }
  });
});
