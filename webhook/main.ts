// `kube-irsa webhook`: wiring only. Flags → config; certificate, API client, caches and sources;
// the HTTPS admission server and the metrics server; SIGTERM drains in-flight admissions first.
import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Command } from '../shared/cli/command.ts';
import { runService } from '../shared/cli/service.ts';
import { loadKubeClient } from '../shared/kube/client.ts';
import { corePath } from '../shared/kube/objects.ts';
import { createReflector, type Reflector } from '../shared/kube/reflector.ts';
import { ContainerCredentialsConfig } from '../shared/identity/container-credentials.ts';
import type { Logger } from '../shared/logging.ts';
import { createRegistry } from '../shared/metrics.ts';
import { VERSION } from '../shared/version.ts';
import { CertificateStore } from './certificate-store.ts';
import { buildWebhookConfig, WEBHOOK_FLAGS, type WebhookConfig } from './config.ts';
import { ContainerCredentialsSource } from './container-credentials-source.ts';
import { MappingSource } from '../shared/identity/mapping-source.ts';
import { createWebhookMetrics } from './metrics.ts';
import { buildAdmissionApp, buildClusterMetricsApp, buildMetricsApp } from './server.ts';
import { readServiceAccount, ServiceAccountCache } from '../shared/identity/service-account-cache.ts';

export interface RunningWebhook {
  readonly port: number;
  readonly metricsPort: number;
  readonly serviceAccounts: ServiceAccountCache;
  isReady(): boolean;
  /** Stops accepting, lets in-flight admissions finish (up to the grace period), then stops. */
  stop(): Promise<void>;
}

export async function startWebhook(config: WebhookConfig, logger: Logger, random: () => number = Math.random): Promise<RunningWebhook> {
  // in a worker of --workers, the primary serves the metrics of all workers
  const clusterWorker = cluster.isWorker;
  const certificates = new CertificateStore({ certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, policy: config.tls, logger });
  const serving = await certificates.load();
  const client = loadKubeClient({ kubeconfig: config.kubeconfig || undefined, kubeApi: config.kubeApi || undefined });
  const registry = createRegistry('webhook');
  if (clusterWorker) {
    new AggregatorRegistry(); // answers the primary's requests for this worker's metrics
    AggregatorRegistry.setRegistries([registry]);
  }
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
  const admission = buildAdmissionApp({
    https: { cert: serving.cert, key: serving.key, minVersion: config.tls.minVersion, ...(config.tls.ciphers ? { ciphers: config.tls.ciphers } : {}) },
    logger, metrics, maxInFlight: config.maxInFlight,
    deps: {
      serviceAccounts, defaults: config.identity,
      mapping: () => mapping.current,
      containerCredentials: () => containerCredentials?.current ?? ContainerCredentialsConfig.empty,
      settings: { ...config.mutation, random },
    },
    readiness: () => {
      if (draining) return 'shutting down';
      if (!saReflector.synced) return 'ServiceAccount cache not synced';
      if (cmReflector && !cmReflector.synced) return 'mapping ConfigMap not synced';
      return undefined;
    },
  });
  const metricsApp = buildMetricsApp({
    registry, logger,
    ...(config.debugHandlers ? { debugCache: () => ({ serviceAccounts: serviceAccounts.size, mappingEntries: mapping.current.size }) } : {}),
  });
  certificates.watchForChanges((c) => {
    admission.server.setSecureContext({ cert: c.cert, key: c.key, minVersion: config.tls.minVersion, ...(config.tls.ciphers ? { ciphers: config.tls.ciphers } : {}) });
    metrics.setCertificateExpiry(c.notAfter);
    metrics.observeReload('certificate', 'loaded');
  }, () => metrics.observeReload('certificate', 'rejected'));

  const host = config.bindAddress || undefined;
  await admission.listen({ port: config.port, ...(host ? { host } : { host: '::' }) });
  if (!clusterWorker) await metricsApp.listen({ port: config.metricsPort, ...(host ? { host } : { host: '::' }) });
  const port = (admission.server.address() as { port: number }).port;
  const metricsPort = clusterWorker ? config.metricsPort : (metricsApp.server.address() as { port: number }).port;
  logger.info({ version: VERSION, pid: process.pid, port, metricsPort, watchConfigMap: config.watchConfigMap, containerCredentials: Boolean(containerCredentials) }, 'webhook listening');

  // the caches fill in the background; /readyz turns true once they are synced
  void Promise.all(reflectors.map((r) => r.start())).then(() => logger.info({ serviceAccounts: serviceAccounts.size }, 'caches synced'));

  return {
    port, metricsPort, serviceAccounts,
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
      if (!clusterWorker) await metricsApp.close();
      for (const r of reflectors) r.stop();
      client.close();
      certificates.close();
      containerCredentials?.close();
      logger.info('webhook stopped');
    },
  };
}

/**
 * --workers N: N processes share the admission port (the primary hands out connections), so TLS and
 * admissions use every core; each worker keeps its own caches. The primary serves the workers'
 * aggregated metrics, restarts a worker that dies, and stops them all on SIGTERM.
 */
export async function startWebhookWorkers(config: WebhookConfig, logger: Logger): Promise<{ stop(): Promise<void> }> {
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < config.workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    logger.error({ pid: worker.process.pid, code, signal }, 'webhook worker died; starting another');
    setTimeout(fork, 1_000).unref();
  });
  const registry = new AggregatorRegistry();
  const metricsApp = buildClusterMetricsApp(registry, logger);
  const host = config.bindAddress || '::';
  await metricsApp.listen({ port: config.metricsPort, host });
  const metricsPort = (metricsApp.server.address() as { port: number }).port;
  logger.info({ version: VERSION, workers: config.workers, metricsPort }, 'webhook primary started');
  return {
    async stop() {
      stopping = true;
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is NonNullable<typeof w> => w !== undefined);
      await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
        w.once('exit', () => resolve());
        w.process.kill('SIGTERM');
      })));
      await metricsApp.close();
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
      if (config.workers > 1 && cluster.isPrimary) return startWebhookWorkers(config, logger);
      const running = await startWebhook(config, logger);
      // a worker leaves when it is stopped, so the primary sees it exit
      return cluster.isWorker ? { stop: async () => { await running.stop(); cluster.worker?.disconnect(); } } : running;
    },
  }, argv),
};
