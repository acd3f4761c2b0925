/** A reader of the Prometheus text exposition format, enough for tests to assert on samples. */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: Sample[];
  /** `# TYPE` lines: metric name → counter, gauge, histogram… */
  readonly types: Map<string, string>;
  /** The value of the sample with exactly this name and these labels; undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The sum of the samples of this name whose labels include these. */
  sum(name: string, labels?: Record<string, string>): number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t !== null) types.set(t[1]!, t[2]!);
    if (line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]!) });
  }
  const includes = (s: Sample, labels: Record<string, string>): boolean => Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  return {
    samples,
    types,
    value(name, labels = {}) {
      const want = Object.keys(labels).length;
      return samples.find((s) => s.name === name && Object.keys(s.labels).length === want && includes(s, labels))?.value;
    },
    sum(name, labels = {}) {
      return samples.filter((s) => s.name === name && includes(s, labels)).reduce((a, s) => a + s.value, 0);
    },
  };
}

/** Every sample name a registry can expose, from its `# TYPE` lines (histograms: their series). */
export function exposedNames(e: Exposition): Set<string> {
  const names = new Set<string>();
  for (const [name, type] of e.types) {
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}
