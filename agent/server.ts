// The agent's HTTP surface: /metrics, /healthz (process and watches alive) and /readyz (initial
// sync done). Neither probe depends on STS, so an STS outage never restarts the DaemonSet.
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { fastifyLogging } from '../shared/http-server.ts';
import type { Registry } from 'prom-client';

export function buildAgentApp(opts: { registry: Registry; logger: Logger; healthy: () => boolean; ready: () => boolean }) {
  const app = Fastify({ ...fastifyLogging(opts.logger, 'agent'), forceCloseConnections: true });
  app.get('/metrics', async (_req, reply) => reply.type(opts.registry.contentType).send(await opts.registry.metrics()));
  app.get('/healthz', async (_req, reply) => (opts.healthy() ? reply.type('text/plain').send('ok') : reply.code(503).type('text/plain').send('watches stalled\n')));
  app.get('/readyz', async (_req, reply) => (opts.ready() ? reply.type('text/plain').send('ok') : reply.code(503).type('text/plain').send('not synced yet\n')));
  return app;
}
