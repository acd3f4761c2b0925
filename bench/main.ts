/**
 * Shared by the benchmark scripts that also run as commands: whether this module is the program
 * node was started with (and not imported, e.g. by run.ts).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
  } catch (err) {
    // Under `node -e` or a loader argv[1] may be no file at all: then this module was imported.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
