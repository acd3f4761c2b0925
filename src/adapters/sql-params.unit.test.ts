/**
 * Parameterised SQL everywhere: no statement text passed to `.query(` or `.exec(` in the adapters
 * is a template literal that splices in a value (a `${…}` other than a constant SQL fragment of the
 * same file), directly or through a `const` of the same file. Values go in `$1, $2…`. The one exception is DDL, which takes no bind parameters (a month partition's
 * name and bounds, built from integers and asserted before use in store.ts); it is listed below by
 * file and text, so a new one fails this test until someone looks at it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('.', import.meta.url).pathname;

const ALLOWED = new Set(['pg/store.ts: CREATE TABLE IF NOT EXISTS ${name} PARTITION OF utl_events']);

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** The template literal starting at `text[at]` (a backtick): its raw text, up to the closing backtick. */
function template(text: string, at: number): string {
  let depth = 0;
  for (let i = at + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '$' && text[i + 1] === '{') {
      depth++;
      i++;
    } else if (c === '}' && depth > 0) depth--;
    else if (c === '`' && depth === 0) return text.slice(at, i + 1);
  }
  return text.slice(at);
}

/**
 * Whether a template literal is constant SQL: every `${…}` in it names a `const` of the file that
 * is itself constant SQL (fragments composed, as store.ts builds its CTEs), never a value.
 */
function constantSql(sqlText: string, consts: ReadonlyMap<string, string>, depth: number): boolean {
  if (depth > 8) return false;
  return [...sqlText.matchAll(/\$\{([^}]*)\}/g)].every((m) => {
    const fragment = consts.get(m[1]!.trim());
    return fragment !== undefined && constantSql(fragment, consts, depth + 1);
  });
}

/** Every statement text given to `.query(`/`.exec(` that interpolates, as "file: first 60 chars". */
function interpolatedSql(file: string, text: string): string[] {
  const found: string[] = [];
  const consts = new Map<string, string>();
  for (const m of text.matchAll(/\bconst\s+([A-Za-z_$][\w$]*)\s*(?::[^=]+)?=\s*`/g)) consts.set(m[1]!, template(text, m.index + m[0].length - 1));
  // `.query(`, `.query<{ … }>(`, `.exec(`: the generic may hold braces and nested angle brackets.
  for (const m of text.matchAll(/\.(query|exec)\s*(<[^()]*>)?\s*\(\s*/g)) {
    const start = m.index + m[0].length;
    let sqlText: string | undefined;
    if (text[start] === '`') sqlText = template(text, start);
    else {
      const id = /^[A-Za-z_$][\w$]*/.exec(text.slice(start))?.[0];
      if (id !== undefined) sqlText = consts.get(id);
    }
    if (sqlText !== undefined && !constantSql(sqlText, consts, 0)) found.push(`${file}: ${sqlText.slice(1, 61)}`.replace(/\s+/g, ' '));
  }
  return found;
}

/**
 * ORDER BY names that mean the SELECT's text, not the column: PostgreSQL reads a bare ORDER BY
 * name as an output column first, so `SELECT seq::text … ORDER BY seq` sorts text (10 before 9)
 * and a keyset page skips or repeats rows. Answers "file: name" for each such ORDER BY item.
 */
function textOrderBy(file: string, text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/`/g)) {
    const sqlText = template(text, m.index);
    if (!/\bORDER BY\b/i.test(sqlText)) continue;
    const textNames = new Set<string>();
    for (const c of sqlText.matchAll(/\b([a-z_][\w]*)::text\b(?!\s+AS\s+(?!\1\b)\w)/gi)) textNames.add(c[1]!.toLowerCase());
    for (const c of sqlText.matchAll(/(?:::text|to_char\([^)]*\))\s+AS\s+([a-z_]\w*)/gi)) textNames.add(c[1]!.toLowerCase());
    for (const o of sqlText.matchAll(/\bORDER BY\s+([\s\S]*?)(?=\bLIMIT\b|\bOFFSET\b|\)|`|$)/gi)) {
      for (const item of o[1]!.split(',')) {
        const name = item.trim().split(/\s+/)[0]!.toLowerCase();
        if (textNames.has(name)) found.push(`${file}: ${name}`);
      }
    }
  }
  return found;
}

describe('ORDER BY in SQL', () => {
  it('the scanner finds an ORDER BY of a name the SELECT made text', () => {
    expect(textOrderBy('x.ts', 'q(`SELECT seq::text, id FROM t ORDER BY seq DESC LIMIT 5`)')).toEqual(['x.ts: seq']);
    expect(textOrderBy('x.ts', "q(`SELECT to_char(at, 'YYYY') AS at FROM t ORDER BY at`)")).toEqual(['x.ts: at']);
    expect(textOrderBy('x.ts', 'q(`SELECT seq::text FROM t e ORDER BY e.seq`)')).toEqual([]);
    expect(textOrderBy('x.ts', 'q(`SELECT seq::text AS seq_text FROM t ORDER BY seq`)')).toEqual([]);
  });

  it('no statement in src/adapters orders by the text the SELECT made of a column', () => {
    expect(sources(ROOT).flatMap((f) => textOrderBy(relative(ROOT, f), readFileSync(f, 'utf8')))).toEqual([]);
  });
});

describe('parameterised SQL', () => {
  it('the scanner finds an interpolated statement, directly and through a const', () => {
    expect(interpolatedSql('x.ts', 'await sql.query(`SELECT * FROM t WHERE id = ${id}`)')).toHaveLength(1);
    expect(interpolatedSql('x.ts', 'const Q = `SELECT ${c} FROM t`;\nawait tx.query<{ a: string }>(Q, [])')).toHaveLength(1);
    expect(interpolatedSql('x.ts', 'await sql.query(`SELECT * FROM t WHERE id = $1`, [id])')).toEqual([]);
    expect(interpolatedSql('x.ts', 'const CTE = `a AS (SELECT 1)`;\nconst Q = `WITH ${CTE} SELECT * FROM a`;\nawait sql.query(Q)')).toEqual([]);
  });

  it('no statement in src/adapters interpolates a value into its SQL text', () => {
    const found = sources(ROOT).flatMap((f) => interpolatedSql(relative(ROOT, f), readFileSync(f, 'utf8')));
    expect(found.filter((f) => ![...ALLOWED].some((a) => f.startsWith(a)))).toEqual([]);
    // The DDL exception is still there (or this list should shrink).
    expect(found.length).toBeGreaterThanOrEqual(1);
  });
});
