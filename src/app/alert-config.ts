/**
 * The alert configuration file (docs/alerts.md): YAML (or JSON, which YAML reads too), read and
 * validated once at start, failing with every problem and its path.
 *
 * The YAML is read with the failsafe schema: every scalar is text, so an amount like 0.1 never
 * passes through a binary float; the validator (src/domain/alerts/rules.ts) reads numbers from
 * that text. `${NAME}` in a webhook's url or header values is replaced by the environment
 * variable NAME (secrets stay out of the file); a variable that is not set is a problem.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { validateAlertConfig, type AlertConfig } from '../domain/alerts/rules.js';

/** The file cannot be used; `problems` lists every reason with its path. */
export class AlertConfigError extends Error {
  override readonly name = 'AlertConfigError';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`alert config ${source}:\n${problems.map((p) => `  ${p}`).join('\n')}`, options);
  }
}

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

function expand(text: string, env: Readonly<Record<string, string | undefined>>, path: string, problems: string[]): string {
  return text.replace(VAR, (whole, name: string) => {
    const v = env[name];
    if (v === undefined) {
      problems.push(`${path}: the environment variable ${name} is not set`);
      return whole;
    }
    return v;
  });
}

/** Expands `${NAME}` in the sinks' url and header values of the parsed document, before validation. */
function expandSinks(doc: unknown, env: Readonly<Record<string, string | undefined>>, problems: string[]): void {
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { sinks?: unknown }).sinks)) return;
  ((doc as { sinks: unknown[] }).sinks).forEach((s, i) => {
    if (typeof s !== 'object' || s === null) return;
    const sink = s as Record<string, unknown>;
    if (typeof sink.url === 'string') sink.url = expand(sink.url, env, `sinks[${i}].url`, problems);
    const headers = sink.headers;
    if (typeof headers === 'object' && headers !== null && !Array.isArray(headers)) {
      const h = headers as Record<string, unknown>;
      for (const [name, v] of Object.entries(h)) if (typeof v === 'string') h[name] = expand(v, env, `sinks[${i}].headers.${name}`, problems);
    }
  });
}

/** The configuration in `text` (YAML or JSON); throws `AlertConfigError` listing every problem. */
export function parseAlertConfig(text: string, source = 'alerts', env: Readonly<Record<string, string | undefined>> = process.env): AlertConfig {
  const doc = parseDocument(text, { schema: 'failsafe', uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new AlertConfigError(
      source,
      doc.errors.map((e) => `line ${e.linePos?.[0].line ?? '?'}: ${e.message.split('\n')[0]}`),
    );
  }
  const raw: unknown = doc.toJS();
  const problems: string[] = [];
  expandSinks(raw, env, problems);
  if (problems.length > 0) throw new AlertConfigError(source, problems);
  const result = validateAlertConfig(raw);
  if (!result.ok) throw new AlertConfigError(source, result.problems);
  return result.config;
}

/** Reads and parses the file at `path` (see `parseAlertConfig`). */
export async function loadAlertConfig(path: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<AlertConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AlertConfigError(path, [`cannot read the file: ${(err as Error).message}`], { cause: err });
  }
  return parseAlertConfig(text, path, env);
}
