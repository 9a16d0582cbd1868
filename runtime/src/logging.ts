import { pino, type Logger } from 'pino';

export type { Logger };

/** Keys whose values never reach a log line. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'hub.influx.password',
  'gateway.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  // SNMP credentials (a target, a v3 user in it, the gateway's GW_SNMP_SECRET_* variables): never
  // logged on purpose, redacted should one be logged whole.
  '*.community',
  '*.*.community',
  '*.*.authKey',
  '*.*.*.authKey',
  '*.*.privKey',
  '*.*.*.privKey',
  '*.secrets',
  '*.*.secrets',
];

/** The one root logger of a process: pino JSON on stdout, secrets redacted. */
export function createRootLogger(name: string, level = 'info'): Logger {
  return pino({ name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}

/** A logger that writes nothing, for tests and embedding. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
