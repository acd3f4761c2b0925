/**
 * The defaults of `utl start`, apart from the composition root that uses them: the command line
 * shows them in its help, and importing start.ts (fastify, PGlite, NATS, …) for that costs every
 * other command, `utl replay` included, about half a second of start-up.
 */
import type { WriteLimit } from '../adapters/http/limits.js';
import { DEFAULT_RECON } from './recon-config.js';
import type { StartOptions } from './start.js';

export const DEFAULT_WRITE_LIMIT: WriteLimit = { max: 600, timeWindowMs: 60_000 };

export const DEFAULT_START: Omit<StartOptions, 'service'> = {
  databaseUrl: undefined,
  natsUrl: undefined,
  dataDir: '.utl',
  stream: 'UTL_EVENTS',
  subjectPrefix: 'utl.events',
  maxInFlight: 20_000,
  ackWaitMs: 10_000,
  host: '127.0.0.1',
  port: 8080,
  http: {},
  logLevel: 'info',
  recon: DEFAULT_RECON,
  alerts: undefined,
};
