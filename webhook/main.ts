// `kube-irsa webhook`: wiring only. Flags → config; certificate, API client, caches and sources;
// the HTTPS admission server and the metrics server; SIGTERM drains in-flight admissions first.
import { threadId } from 'node:worker_threads';
import type { Command } from '../shared/cli/command.ts';
import { runService } from '../shared/cli/service.ts';
import { loadKubeClient, statusOf } from '../shared/kube/client.ts';
import { corePath } from '../shared/kube/objects.ts';
import { createReflector, type Reflector } from '../shared/kube/reflector.ts';
import type { Logger } from '../shared/logging.ts';
import { createRegistry } from '../shared/metrics.ts';
import { VERSION } from '../shared/version.ts';
import { CertificateStore } from './certificate-store.ts';
import { buildWebhookConfig, WEBHOOK_FLAGS, type WebhookConfig } from './config.ts';
import { ContainerCredentialsSource } from '../shared/identity/container-credentials-source.ts';
import { IdentityResolver } from '../shared/identity/resolver.ts';
import { MappingSource } from '../shared/identity/mapping-source.ts';
import { createWebhookMetrics } from './metrics.ts';
import { buildAdmissionApp, buildMetricsApp } from './server.ts';
import type { GuardedPod } from './token-guard/handler.ts';
import type { RunningWebhook, StartOptions } from './running.ts';
import { startWebhookWorkers } from './workers.ts';
import { readServiceAccount, ServiceAccountCache } from '../shared/identity/service-account-cache.ts';

export type { RunningWebhook, StartOptions } from './running.ts';

export async function startWebhook(config: WebhookConfig, logger: Logger, opts: StartOptions = {}): Promise<RunningWebhook> {
  const thread = opts.thread ?? false;
  const random = opts.random ?? Math.random;
  const certificates = new CertificateStore({ certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, policy: config.tls, logger });
  const serving = await certificates.load();
  const client = loadKubeClient({ kubeconfig: config.kubeconfig || undefined, kubeApi: config.kubeApi || undefined });
  const registry = createRegistry('webhook', { processMetrics: !thread });
  const metrics = createWebhookMetrics(registry);
  metrics.setCertificateExpiry(serving.notAfter);

  const serviceAccounts = new ServiceAccountCache({
    defaults: config.identity, read: readServiceAccount(client), gracePeriodMs: config.lookupGracePeriodMs, logger,
    onLookup: (o) => metrics.observeLookup(o), onSizeChange: (n) => metrics.setCacheSize(n),
  });
  const reflectors: Reflector[] = [];
  const saReflector = createReflector({
    client, resource: 'serviceaccounts', path: corePath('serviceaccounts'), logger,
    transform: serviceAccounts.transform, handlers: serviceAccounts,
  });
  reflectors.push(saReflector);

  const mapping = new MappingSource({ defaults: config.identity, logger, onEvent: (r) => metrics.observeReload('config-map', r) });
  let cmReflector: Reflector | undefined;
  if (config.watchConfigMap) {
    cmReflector = mapping.reflector({ client, namespace: config.configMapNamespace });
    reflectors.push(cmReflector);
  }
  const containerCredentials = config.containerCredentialsFile
    ? new ContainerCredentialsSource({ file: config.containerCredentialsFile, logger, onEvent: (r) => metrics.observeReload('container-credentials', r) })
    : undefined;
  await containerCredentials?.start();

  let draining = false;
  const resolver = new IdentityResolver({
    serviceAccounts, defaults: config.identity,
    mapping: () => mapping.current,
    ...(containerCredentials ? { containerCredentials: () => containerCredentials.current } : {}),
  });
  const admission = buildAdmissionApp({
    https: { cert: serving.cert, key: serving.key, minVersion: config.tls.minVersion, ...(config.tls.ciphers ? { ciphers: config.tls.ciphers } : {}) },
    logger, metrics, maxInFlight: config.maxInFlight,
    deps: { resolver, settings: { ...config.mutation, random } },
    // the token guard reads the bound pod as it is now: a GET per agent TokenRequest, no cache
    tokenGuard: {
      resolver,
      getPod: async (namespace, name) => {
        try {
          return await client.request<GuardedPod>('GET', corePath('namespaces', namespace, 'pods', name));
        } catch (err) {
          if (statusOf(err) === 404) return undefined;
          throw err;
        }
      },
    },
    readiness: () => {
      if (draining) return 'shutting down';
      if (!saReflector.synced) return 'ServiceAccount cache not synced';
      if (cmReflector && !cmReflector.synced) return 'mapping ConfigMap not synced';
      return undefined;
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
  logger.info({ version: VERSION, pid: process.pid, ...(thread ? { thread: threadId } : {}), port, metricsPort, watchConfigMap: config.watchConfigMap, containerCredentials: Boolean(containerCredentials) }, 'webhook listening');

  // the caches fill in the background; /readyz turns true once they are synced
  void Promise.all(reflectors.map((r) => r.start())).then(() => logger.info({ serviceAccounts: serviceAccounts.size }, 'caches synced'));

  return {
    port, metricsPort, serviceAccounts, registry,
    isReady: () => !draining && saReflector.synced && (!cmReflector || cmReflector.synced),
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
      for (const r of reflectors) r.stop();
      client.close();
      certificates.close();
      containerCredentials?.close();
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
