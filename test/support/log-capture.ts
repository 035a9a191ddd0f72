// A logger whose lines a test can read: to assert what was logged, and that no secret was.
import type { Logger } from 'pino';
import { createLogger, type LogLevel } from '../../shared/logging.ts';

export interface CapturedLogs {
  readonly logger: Logger;
  readonly lines: string[];
  text(): string;
  /** Parsed lines whose msg matches. */
  find(msg: string | RegExp): Array<Record<string, unknown>>;
}

export function captureLogs(component: string, level: LogLevel = 'debug'): CapturedLogs {
  const lines: string[] = [];
  const logger = createLogger({ component, level, destination: { write: (s: string) => void lines.push(s) } });
  return {
    logger, lines,
    text: () => lines.join(''),
    find: (msg) => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => typeof o.msg === 'string' && (typeof msg === 'string' ? o.msg === msg : msg.test(o.msg))),
  };
}

/** JWTs, AWS access key ids and secret-looking values that must never appear in logs, Events or metrics. */
export const SECRET_PATTERNS: readonly RegExp[] = [
  /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/,
  /\b(ASIA|AKIA)[A-Z0-9]{16}\b/,
  /IQoJb3JpZ2luX2Vj/,
];

export function findSecrets(text: string): string[] {
  return SECRET_PATTERNS.flatMap((p) => {
    const m = p.exec(text);
    return m ? [`${p.source} matched "${m[0].slice(0, 12)}…"`] : [];
  });
}
