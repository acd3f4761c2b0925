/**
 * End-of-day snapshots in PostgreSQL (`utl_day_snapshots`, migration 5): one row per (day, book)
 * holding the book's part of the report as JSON text, and one row with book '' for the firm-wide
 * part. A day is written whole in one transaction (a retake replaces it). Parameterised SQL only.
 */
import type { Sql } from '../../app/ports.js';
import type { SnapshotDay, SnapshotRows, SnapshotStore } from '../../app/snapshots.js';

const DAY_INFO = `SELECT to_char(day, 'YYYY-MM-DD') AS day, max(as_of_us)::text AS as_of_us,
  to_char(max(taken_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS taken_at,
  (count(*) FILTER (WHERE book <> ''))::int AS books
  FROM utl_day_snapshots`;

interface DayRow {
  day: string;
  as_of_us: string;
  taken_at: string;
  books: number;
}

const info = (r: DayRow): SnapshotDay => ({ day: r.day, asOfUs: Number(r.as_of_us), takenAt: r.taken_at, books: r.books });

export class PgSnapshotStore implements SnapshotStore {
  constructor(private readonly sql: Sql) {}

  async put(day: string, asOfUs: number, parts: readonly { book: string; doc: string }[]): Promise<SnapshotDay> {
    await this.sql.transaction(async (tx) => {
      await tx.query('DELETE FROM utl_day_snapshots WHERE day = $1::date', [day]);
      // In chunks: one statement per 500 books keeps the parameter count bounded.
      for (let i = 0; i < parts.length; i += 500) {
        const chunk = parts.slice(i, i + 500);
        await tx.query(
          `INSERT INTO utl_day_snapshots (day, book, as_of_us, doc)
           SELECT $1::date, b, $2::bigint, d::json FROM unnest($3::text[], $4::text[]) AS u(b, d)`,
          [day, asOfUs, chunk.map((p) => p.book), chunk.map((p) => p.doc)],
        );
      }
    });
    return (await this.day(day))!;
  }

  async day(day: string): Promise<SnapshotDay | undefined> {
    const { rows } = await this.sql.query<DayRow>(`${DAY_INFO} WHERE day = $1::date GROUP BY day`, [day]);
    return rows[0] === undefined ? undefined : info(rows[0]);
  }

  async days(limit: number, before: string | undefined): Promise<SnapshotDay[]> {
    const { rows } = await this.sql.query<DayRow>(`${DAY_INFO} WHERE ($1::date IS NULL OR day < $1::date) GROUP BY day ORDER BY day DESC LIMIT $2`, [before ?? null, limit]);
    return rows.map(info);
  }

  async read(day: string, books: readonly string[] | undefined): Promise<SnapshotRows | undefined> {
    const { rows } = await this.sql.query<{ book: string; doc: string }>(
      `SELECT book, doc::text AS doc FROM utl_day_snapshots WHERE day = $1::date AND ($2::text[] IS NULL OR book = ANY($2::text[])) ORDER BY book`,
      [day, books === undefined ? null : ['', ...books]],
    );
    const had = await this.day(day);
    return had === undefined ? undefined : { ...had, rows };
  }
}
