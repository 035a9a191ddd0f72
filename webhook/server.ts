// The webhook's HTTP surface, as fastify apps that never listen by themselves (main.ts does, tests
// use inject()): the HTTPS admission app (/mutate, /healthz, /readyz) and the plain-HTTP metrics
// app (/metrics and, on request, the reference's debug cache dump).
import type { Duplex } from 'node:stream';
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { fastifyLogging } from '../shared/http-server.ts';
import type { Registry } from 'prom-client';
import { admit, requestLogFields, type AdmissionDeps } from './admission/handler.ts';
import { decodeReview, deny, encodeReview } from './admission/review.ts';
import type { WebhookMetrics } from './metrics.ts';
import { guardTokenRequest, type TokenGuardDeps } from './token-guard/handler.ts';

// A Pod is at most ~1.5 MiB (etcd's request limit); an AdmissionReview can carry it twice (object
// and oldObject) plus envelope. 7 MiB is what controller-runtime allows for the same reason.
export const MAX_REVIEW_BYTES = 7 * 1024 * 1024;
const JSON_CONTENT_TYPE = /^application\/json\s*(;.*)?$/i;

export interface Readiness {
  /** Undefined when ready; otherwise what is missing. */
  (): string | undefined;
}

export interface AdmissionAppOptions {
  readonly https: { readonly cert: string; readonly key: string; readonly minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'; readonly ciphers?: string };
  readonly deps: AdmissionDeps;
  readonly metrics: WebhookMetrics;
  readonly logger: Logger;
  readonly readiness: Readiness;
  /** Admissions in progress beyond which new ones are refused at once with 503 (0: no limit). */
  readonly maxInFlight?: number;
  /** Serves /validate-agent-token, the node restriction of the agent's TokenRequests. */
  readonly tokenGuard?: TokenGuardDeps;
}

/** What a connection-level failure answers, as fastify's default handler does; none for HPE_PAUSED (see below). */
const CLIENT_ERROR_STATUS: Readonly<Record<string, string>> = { ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout', HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large' };

/**
 * A connection Node's HTTP parser gave up on. Fastify logs these at trace and closes the socket, so
 * admissions queued behind the failure vanish without a word; here the cause is logged. HPE_PAUSED
 * is Node's own failure with pipelined requests over TLS (docs/upstream/node-https-pipelining.md):
 * no status line is written for it, since the client would take it for the next request's answer.
 */
export function connectionErrorHandler(logger: Logger) {
  return (err: NodeJS.ErrnoException & { bytesParsed?: number }, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const fields = { code: err.code, cause: err.message, bytesParsed: err.bytesParsed, ...(err.code === 'HPE_PAUSED' ? { see: 'docs/upstream/node-https-pipelining.md' } : {}) };
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') logger.info(fields, 'connection closed: request timeout');
    else logger.warn(fields, 'connection closed by an HTTP parse error; requests still queued on it get no answer');
    if (socket.writable && err.code !== 'HPE_PAUSED') {
      socket.write(`HTTP/1.1 ${CLIENT_ERROR_STATUS[err.code ?? ''] ?? '400 Bad Request'}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    }
    socket.destroy(err);
  };
}

export function buildAdmissionApp(opts: AdmissionAppOptions) {
  const { logger, metrics } = opts;
  const app = Fastify({
    https: { ...opts.https },
    ...fastifyLogging(logger, 'admission'),
    clientErrorHandler: connectionErrorHandler(logger),
    bodyLimit: MAX_REVIEW_BYTES,
    // the API server gives a webhook at most 30 s; a request still open after that is stuck
    requestTimeout: 30_000,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });

  // every body arrives as text: decoding (and its errors) is the AdmissionReview layer's job,
  // so a malformed review gets a well-formed answer instead of fastify's generic error
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_REVIEW_BYTES }, (_req, body, done) => done(null, body));

  // Overload: refuse at once rather than let every admission queue past the API server's timeout.
  // The API server then applies the failure policy (Ignore by default: the pod starts unmutated and
  // the agent reports it), instead of waiting for each pod until it times out.
  const maxInFlight = opts.maxInFlight ?? 0;
  let inFlight = 0;
  const counted = new WeakSet<object>();
  app.addHook('onRequest', (req, reply, done) => {
    if (req.url.startsWith('/mutate')) {
      if (maxInFlight > 0 && inFlight >= maxInFlight) {
        metrics.observeShed();
        void reply.code(503).header('retry-after', '1').type('text/plain').send('overloaded: too many admissions in progress\n');
        return;
      }
      inFlight++;
      counted.add(req);
    }
    done();
  });
  const release = (req: object): void => {
    if (counted.delete(req)) inFlight--;
  };
  app.addHook('onRequestAbort', (req, done) => {
    release(req);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    release(req);
    if (req.routeOptions.url === '/mutate') metrics.observeHttp(req.method, '/mutate', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  // A bug must not look like a verdict: answer 500, so the API server applies the failure policy
  // (through the one encoder, so the answer still carries the request's uid and apiVersion/kind)
  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) logger.error({ err: err.message, stack: err.stack }, 'admission failed unexpectedly');
    const decoded = typeof req.body === 'string' ? decodeReview(req.body) : undefined;
    const uid = decoded === undefined ? '' : decoded.ok ? decoded.request.uid : decoded.uid;
    void reply.code(status).type('application/json').send(encodeReview(decoded?.typeMeta ?? {}, uid, deny(status === 500 ? 'internal error in kube-irsa' : err.message)));
  });

  app.post('/mutate', async (req, reply) => {
    const started = process.hrtime.bigint();
    const contentType = req.headers['content-type'] ?? '';
    if (!JSON_CONTENT_TYPE.test(contentType)) {
      return reply.code(415).type('text/plain; charset=utf-8').send('Invalid Content-Type, expected `application/json`\n');
    }
    const decoded = decodeReview(typeof req.body === 'string' ? req.body : '');
    reply.type('application/json');
    if (!decoded.ok) {
      logger.warn({ reason: decoded.message }, 'malformed AdmissionReview');
      metrics.observeAdmission('rejected', Number(process.hrtime.bigint() - started) / 1e9, undefined, 0);
      return encodeReview(decoded.typeMeta, decoded.uid, deny(decoded.message));
    }
    const result = await admit(decoded.request, opts.deps);
    // a per-request child logger costs a serialisation: build it only for lines that will be written
    const log = (level: 'debug' | 'warn') => (logger.isLevelEnabled(level) ? logger.child(requestLogFields(decoded.request)) : undefined);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const warnings = result.verdict.allowed ? result.verdict.warnings : [];
    metrics.observeAdmission(result.outcome, seconds, result.identity?.mode, warnings.length);
    if (result.outcome === 'mutated') {
      log('debug')?.debug({ serviceAccount: result.serviceAccount, mode: result.identity?.mode, roleArn: result.identity?.mode === 'web-identity' ? result.identity.roleArn : undefined, source: result.identity?.source, warnings }, 'pod mutated');
    } else if (result.outcome === 'rejected') {
      log('warn')?.warn({ reason: result.verdict.allowed ? undefined : result.verdict.message }, 'admission request rejected');
    } else {
      log('debug')?.debug({ outcome: result.outcome, serviceAccount: result.serviceAccount, lookup: result.lookup }, 'pod not mutated');
    }
    return encodeReview(decoded.typeMeta, decoded.request.uid, result.verdict);
  });

  const tokenGuard = opts.tokenGuard;
  if (tokenGuard) {
    app.post('/validate-agent-token', async (req, reply) => {
      const decoded = decodeReview(typeof req.body === 'string' ? req.body : '');
      reply.type('application/json');
      if (!decoded.ok) return encodeReview(decoded.typeMeta, decoded.uid, deny(decoded.message));
      const { verdict, decision } = await guardTokenRequest(decoded.request, tokenGuard);
      if (decision && !decision.allowed) {
        logger.info({ rule: decision.rule, namespace: decoded.request.namespace, serviceAccount: decoded.request.name, requester: decoded.request.userInfo?.username }, 'agent TokenRequest denied');
      }
      return encodeReview(decoded.typeMeta, decoded.request.uid, verdict);
    });
  }

  app.get('/healthz', async (_req, reply) => reply.type('text/plain').send('ok'));
  app.get('/readyz', async (_req, reply) => {
    const missing = opts.readiness();
    return missing === undefined ? reply.type('text/plain').send('ok') : reply.code(503).type('text/plain').send(`not ready: ${missing}\n`);
  });
  return app;
}

export interface MetricsAppOptions {
  readonly registry: Registry;
  readonly logger: Logger;
  /** The reference's /debug/alpha/cache, when --enable-debugging-handlers is set. */
  readonly debugCache?: () => unknown;
}

export function buildMetricsApp(opts: MetricsAppOptions) {
  const app = Fastify({ ...fastifyLogging(opts.logger, 'metrics'), forceCloseConnections: true });
  app.get('/metrics', async (_req, reply) => reply.type(opts.registry.contentType).send(await opts.registry.metrics()));
  const debugCache = opts.debugCache;
  if (debugCache) app.get('/debug/alpha/cache', async (_req, reply) => reply.type('application/json').send(JSON.stringify(debugCache(), null, 1)));
  return app;
}

/** The main thread's /metrics under --workers: `collect` gathers the process's and the threads' metrics. */
export function buildAggregatedMetricsApp(collect: () => Promise<Registry>, logger: Logger) {
  const app = Fastify({ ...fastifyLogging(logger, 'metrics'), forceCloseConnections: true });
  app.get('/metrics', async (_req, reply) => {
    const registry = await collect();
    return reply.type(registry.contentType).send(await registry.metrics());
  });
  return app;
}
