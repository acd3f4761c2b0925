/**
 * A fast path for parsing one JSON Lines event: objects, arrays and strings without escapes (what
 * canonical events are made of), about three times faster than JSON.parse on such lines.
 *
 * Contract (property-tested against JSON.parse): for any text, `parseEventLine` either returns
 * undefined (declines: the caller uses JSON.parse) or returns a value deep-equal to
 * `JSON.parse(text)`. It declines on anything it does not handle exactly: escapes, numbers,
 * literals (true/false/null), control characters, `__proto__` keys, nesting deeper than 8,
 * trailing garbage. A decline is never an error: JSON.parse then gives the verdict.
 */

const MAX_DEPTH = 8;
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\\\u0000-\u001f]/;

class Declined {
  private constructor() {}
  static readonly it = new Declined();
}

/** Parses a canonical event line, or returns undefined to let JSON.parse decide. */
export function parseEventLine(text: string): unknown {
  if (text.charCodeAt(0) !== 123 /* { */ || UNSAFE.test(text)) return undefined;
  const p = new Scanner(text);
  const v = p.object(0);
  if (v === Declined.it) return undefined;
  p.ws();
  return p.i === text.length ? v : undefined;
}

class Scanner {
  i = 0;
  constructor(private readonly t: string) {}

  ws(): void {
    const t = this.t;
    let c = t.charCodeAt(this.i);
    while (c === 32 || c === 9 || c === 10 || c === 13) c = t.charCodeAt(++this.i);
  }

  private value(depth: number): unknown {
    this.ws();
    const c = this.t.charCodeAt(this.i);
    if (c === 34) return this.string();
    if (c === 123) return this.object(depth + 1);
    if (c === 91) return this.array(depth + 1);
    return Declined.it;
  }

  private string(): string | Declined {
    const start = this.i + 1;
    const end = this.t.indexOf('"', start);
    if (end < 0) return Declined.it;
    this.i = end + 1;
    return this.t.slice(start, end);
  }

  object(depth: number): unknown {
    if (depth > MAX_DEPTH || this.t.charCodeAt(this.i) !== 123) return Declined.it;
    this.i++;
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.t.charCodeAt(this.i) === 125) {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.t.charCodeAt(this.i) !== 34) return Declined.it;
      const key = this.string();
      if (key === Declined.it || key === '__proto__') return Declined.it;
      this.ws();
      if (this.t.charCodeAt(this.i) !== 58) return Declined.it;
      this.i++;
      const v = this.value(depth);
      if (v === Declined.it) return Declined.it;
      out[key as string] = v;
      this.ws();
      const c = this.t.charCodeAt(this.i++);
      if (c === 125) return out;
      if (c !== 44) return Declined.it;
    }
  }

  private array(depth: number): unknown {
    if (depth > MAX_DEPTH) return Declined.it;
    this.i++;
    const out: unknown[] = [];
    this.ws();
    if (this.t.charCodeAt(this.i) === 93) {
      this.i++;
      return out;
    }
    for (;;) {
      const v = this.value(depth);
      if (v === Declined.it) return Declined.it;
      out.push(v);
      this.ws();
      const c = this.t.charCodeAt(this.i++);
      if (c === 93) return out;
      if (c !== 44) return Declined.it;
    }
  }
}
