// `kube-irsa webhook`: wiring only. Flags → config; certificate, API client, caches and sources;
// the HTTPS admission server and the metrics server; SIGTERM drains in-flight admissions first.
import { threadId } from 'node:worker_threads';
import type { Command } from '../shared/cli/command.ts';
import { runService } from '../shared/cli/service.ts';
import { loadKubeApi, statusOf } from '../shared/kube/api.ts';
import type { Logger } from '../shared/logging.ts';
import { createRegistry } from '../shared/metrics.ts';
import { VERSION } from '../shared/version.ts';
import { CertificateStore } from './certificate-store.ts';
import { buildWebhookConfig, WEBHOOK_FLAGS, type WebhookConfig } from './config.ts';
import { IdentitySources } from '../shared/identity/identity-sources.ts';
import { createWebhookMetrics } from './metrics.ts';
import { buildAdmissionApp, buildMetricsApp } from './server.ts';
import type { RunningWebhook, StartOptions } from './running.ts';
import { startWebhookWorkers } from './workers.ts';

export type { RunningWebhook, StartOptions } from './running.ts';

export async function startWebhook(config: WebhookConfig, logger: Logger, opts: StartOptions = {}): Promise<RunningWebhook> {
  const thread = opts.thread ?? false;
  const random = opts.random ?? Math.random;
  const certificates = new CertificateStore({ certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, policy: config.tls, logger });
  const serving = await certificates.load();
  const api = loadKubeApi(config.kube);
  const registry = createRegistry('webhook', { processMetrics: !thread });
  const metrics = createWebhookMetrics(registry);
  metrics.setCertificateExpiry(serving.notAfter);

  const sources = new IdentitySources({
    api, defaults: config.identity, watchConfigMap: config.watchConfigMap, configMapNamespace: config.configMapNamespace,
    containerCredentialsFile: config.containerCredentialsFile, lookupGracePeriodMs: config.lookupGracePeriodMs, logger,
    onLookup: (o) => metrics.observeLookup(o), onCacheSize: (n) => metrics.setCacheSize(n),
    onMappingEvent: (r) => metrics.observeReload('config-map', r),
    onCredentialsEvent: (r) => metrics.observeReload('container-credentials', r),
  });
  const { resolver, serviceAccounts, mapping } = sources;
  await sources.startFiles();

  let draining = false;
  const admission = buildAdmissionApp({
    https: { cert: serving.cert, key: serving.key, minVersion: config.tls.minVersion, ...(config.tls.ciphers ? { ciphers: config.tls.ciphers } : {}) },
    logger, metrics, maxInFlight: config.maxInFlight,
    deps: { resolver, settings: { ...config.mutation, random } },
    // the token guard reads the bound pod as it is now: a GET per agent TokenRequest, no cache
    tokenGuard: {
      resolver,
      getPod: async (namespace, name) => {
        try {
          return await api.core.readNamespacedPod({ namespace, name });
        } catch (err) {
          if (statusOf(err) === 404) return undefined;
          throw err;
        }
      },
    },
    readiness: () => {
      if (draining) return 'shutting down';
      return sources.notSynced;
    },
  });
  const metricsApp = thread ? undefined : buildMetricsApp({
    registry, logger,
    ...(config.debugHandlers ? { debugCache: () => ({ serviceAccounts: serviceAccounts.size, mappingEntries: mapping.current.size }) } : {}),
  });
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
  logger.info({ version: VERSION, pid: process.pid, ...(thread ? { thread: threadId } : {}), port, metricsPort, watchConfigMap: config.watchConfigMap, containerCredentials: sources.hasContainerCredentials }, 'webhook listening');

  // the caches fill in the background; /readyz turns true once they are synced
  void sources.startWatches().then(() => logger.info({ serviceAccounts: serviceAccounts.size }, 'caches synced'));

  return {
    port, metricsPort, serviceAccounts, registry,
    isReady: () => !draining && sources.notSynced === undefined,
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
      sources.stop();
      await api.close();
      certificates.close();
      logger.info('webhook stopped');
    },
  };
}

export const webhookCommand: Command = {
  name: 'webhook',
  summary: 'Run the mutating admission webhook (drop-in for amazon-eks-pod-identity-webhook)',
  run: (argv) => runService({
    name: 'webhook',
    description: 'Mutating admission webhook that injects AWS web-identity (IRSA) or container-credentials settings into pods.\nAccepts every flag of amazon-eks-pod-identity-webhook.',
    flags: WEBHOOK_FLAGS,
    early: ({ values }) => {
      if (!values.version) return undefined;
      process.stdout.write(`kube-irsa ${VERSION}\n`);
      return 0;
    },
    configure: ({ values, given }) => buildWebhookConfig(values, given),
    start: async (config, logger) => {
      if (config.workers > 1) return startWebhookWorkers(config, logger, startWebhook);
      return startWebhook(config, logger);
    },
  }, argv),
};
