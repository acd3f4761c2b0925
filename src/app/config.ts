/**
 * Per-book settings from a file (`utl replay --books FILE`): which cost method, fee convention
 * and pooling each book uses, overriding the command line's defaults. Parsed once, and every
 * problem is reported at once, with its path.
 *
 * ```json
 * { "books": { "otc": { "method": "hifo", "fees": "capitalise" }, "treasury": { "pool": "venue" } } }
 * ```
 */
import type { BookSettings } from '../domain/book.js';
import { COST_METHODS } from '../domain/lots.js';
import { isName } from '../domain/validate.js';

export type BookOverrides = Record<string, Partial<BookSettings>>;

const CHOICES: Record<keyof BookSettings, readonly string[]> = {
  method: COST_METHODS,
  fees: ['separate', 'capitalise'],
  pool: ['book', 'venue'],
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The overrides in a books file's text, or every problem found in it. */
export function parseBooksFile(text: string): { ok: true; books: BookOverrides } | { ok: false; problems: string[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    return { ok: false, problems: [`not JSON: ${e.message}`] };
  }
  const problems: string[] = [];
  if (!isObject(doc) || !isObject(doc.books)) return { ok: false, problems: ['expected {"books": {"<book>": {"method"?, "fees"?, "pool"?}}}'] };
  for (const key of Object.keys(doc)) if (key !== 'books') problems.push(`${key}: unknown field (only "books")`);
  const books: BookOverrides = {};
  for (const [book, settings] of Object.entries(doc.books)) {
    if (!isName(book)) problems.push(`books.${book}: not a book name`);
    if (!isObject(settings)) {
      problems.push(`books.${book}: expected an object of settings`);
      continue;
    }
    const out: Partial<Record<keyof BookSettings, string>> = {};
    for (const [field, value] of Object.entries(settings)) {
      const choices = CHOICES[field as keyof BookSettings] as readonly string[] | undefined;
      if (choices === undefined) problems.push(`books.${book}.${field}: unknown setting (method, fees or pool)`);
      else if (typeof value !== 'string' || !choices.includes(value)) problems.push(`books.${book}.${field}: expected one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
      else out[field as keyof BookSettings] = value;
    }
    books[book] = out as Partial<BookSettings>;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, books };
}
