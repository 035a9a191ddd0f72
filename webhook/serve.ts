// One thread's webhook without the API server: the HTTPS admission server (mutation and the token
// guard) and, on its own, the metrics server, over an identity service that the caller provides —
// the main thread's caches (main.ts), or a relay to them from a worker thread of --workers
// (identity-relay.ts), so worker threads hold no API client and no cache. SIGTERM drains in-flight
// admissions first.
import { threadId } from 'node:worker_threads';
import type { Registry } from 'prom-client';
import type { Logger } from '../shared/logging.ts';
import { VERSION } from '../shared/version.ts';
import { CertificateStore } from './certificate-store.ts';
import { ConnectionShedding } from './connection-shedding.ts';
import type { WebhookConfig } from './config.ts';
import type { WebhookMetrics } from './metrics.ts';
import type { IdentityService, ServingWebhook, StartOptions } from './running.ts';
import { buildAdmissionApp, buildMetricsApp } from './server.ts';

export interface ServeOptions extends StartOptions {
  readonly registry: Registry;
  readonly metrics: WebhookMetrics;
  readonly identity: IdentityService;
  readonly debugCache?: () => Record<string, number>;
  /** Extra fields of the "webhook listening" log line. */
  readonly listening?: Record<string, unknown>;
}

export async function serveWebhook(config: WebhookConfig, logger: Logger, opts: ServeOptions): Promise<ServingWebhook> {
  const thread = opts.thread ?? false;
  const random = opts.random ?? Math.random;
  const { registry, metrics, identity } = opts;
  const certificates = new CertificateStore({ certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, policy: config.tls, logger });
  const serving = await certificates.load();
  metrics.setCertificateExpiry(serving.notAfter);

  let draining = false;
  const admission = buildAdmissionApp({
    https: { cert: serving.cert, key: serving.key, minVersion: config.tls.minVersion, ...(config.tls.ciphers ? { ciphers: config.tls.ciphers } : {}) },
    logger, metrics, maxInFlight: config.maxInFlight,
    deps: { resolver: identity.resolver, settings: { ...config.mutation, random } },
    // the token guard reads the bound pod as it is now: a GET per agent TokenRequest, no cache
    tokenGuard: { resolver: identity.resolver, getPod: (namespace, name) => identity.getPod(namespace, name) },
    readiness: () => (draining ? 'shutting down' : identity.notReady()),
  });
  // only where workers.ts may ask for it: the hook runs on every admission
  const connections = opts.shedsConnections ? new ConnectionShedding() : undefined;
  if (connections) {
    connections.count(admission.server);
    admission.addHook('onSend', async (_request, reply, payload) => {
      if (connections.takeClose()) void reply.header('connection', 'close');
      return payload;
    });
  }
  const metricsApp = thread ? undefined : buildMetricsApp({ registry, logger, ...(config.debugHandlers && opts.debugCache ? { debugCache: opts.debugCache } : {}) });
  certificates.watchForChanges((c) => {
    admission.server.setSecureContext({ cert: c.cert, key: c.key, minVersion: config.tls.minVersion, ...(config.tls.ciphers ? { ciphers: config.tls.ciphers } : {}) });
    metrics.setCertificateExpiry(c.notAfter);
    metrics.observeReload('certificate', 'loaded');
  }, () => metrics.observeReload('certificate', 'rejected'));

  const host = config.bindAddress || undefined;
  // reusePort (SO_REUSEPORT) lets the threads of --workers listen on one port; fastify passes it on
  await admission.listen({ port: config.port, host: host ?? '::', ...(thread ? { reusePort: true } : {}) } as { port: number; host: string });
  await metricsApp?.listen({ port: config.metricsPort, ...(host ? { host } : { host: '::' }) });
  const port = (admission.server.address() as { port: number }).port;
  const metricsPort = metricsApp ? (metricsApp.server.address() as { port: number }).port : config.metricsPort;
  logger.info({ version: VERSION, pid: process.pid, ...(thread ? { thread: threadId } : {}), port, metricsPort, ...opts.listening }, 'webhook listening');

  return {
    port, metricsPort, registry, connections,
    isReady: () => !draining && identity.notReady() === undefined,
    async stop() {
      draining = true;
      const grace = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGracePeriodMs).unref());
      // keep-alive connections go idle as their last admission is answered: close them as they do,
      // so the process does not wait for clients to hang up
      const sweeper = setInterval(() => admission.server.closeIdleConnections(), 100);
      await Promise.race([admission.close(), grace]);
      clearInterval(sweeper);
      admission.server.closeAllConnections();
      await metricsApp?.close();
      certificates.close();
    },
  };
}
