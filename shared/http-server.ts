// Options every kube-irsa fastify app shares: our pino logger, and no per-request access log
// (admissions log their own line with what matters; probes and scrapes would drown it).
import { LogController } from 'fastify';
import type { Logger } from 'pino';

export function fastifyLogging(logger: Logger, server: string): { loggerInstance: Logger; logController: LogController } {
  return { loggerInstance: logger.child({ server }), logController: new LogController({ disableRequestLogging: true }) };
}
