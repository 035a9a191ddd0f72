// pino JSON logs for every component. Tokens and credentials must never reach a log line: the
// known places are redacted here, once, and code never passes a token to a logger.
import pino, { type DestinationStream, type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const REDACT_PATHS = [
  'token', '*.token', 'webIdentityToken', '*.webIdentityToken', 'WebIdentityToken', '*.WebIdentityToken',
  'credentials', '*.credentials', 'Credentials', '*.Credentials',
  'secretAccessKey', '*.secretAccessKey', 'sessionToken', '*.sessionToken',
  'headers.authorization', '*.headers.authorization', 'req.headers.authorization',
];

export interface LoggerOptions {
  readonly component: string;
  readonly level?: LogLevel;
  readonly destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino({
    level: opts.level ?? 'info',
    base: { component: opts.component },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, opts.destination ?? pino.destination({ fd: 2, sync: false }));
}

export type { Logger };
