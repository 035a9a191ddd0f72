// `kube-irsa webhook`: wiring only. Flags → config; the API client and the identity sources (caches
// and watches, in this thread only); the webhook served over them (serve.ts); --workers adds threads
// that admit through this thread's identity (workers.ts).
import type { Command } from '../shared/cli/command.ts';
import { runService } from '../shared/cli/service.ts';
import { IdentitySources } from '../shared/identity/identity-sources.ts';
import { loadKubeApi, statusOf } from '../shared/kube/api.ts';
import type { Logger } from '../shared/logging.ts';
import { createRegistry } from '../shared/metrics.ts';
import { VERSION } from '../shared/version.ts';
import { buildWebhookConfig, WEBHOOK_FLAGS, type WebhookConfig } from './config.ts';
import { createWebhookMetrics } from './metrics.ts';
import type { IdentityService, RunningWebhook, StartOptions } from './running.ts';
import { serveWebhook } from './serve.ts';
import { startWebhookWorkers } from './workers.ts';

export type { RunningWebhook, StartOptions } from './running.ts';

export async function startWebhook(config: WebhookConfig, logger: Logger, opts: StartOptions = {}): Promise<RunningWebhook> {
  const api = loadKubeApi(config.kube);
  const registry = createRegistry('webhook', { processMetrics: !(opts.thread ?? false) });
  const metrics = createWebhookMetrics(registry);
  const sources = new IdentitySources({
    api, defaults: config.identity, watchConfigMap: config.watchConfigMap, configMapNamespace: config.configMapNamespace,
    containerCredentialsFile: config.containerCredentialsFile, lookupGracePeriodMs: config.lookupGracePeriodMs, logger,
    onLookup: (o) => metrics.observeLookup(o), onCacheSize: (n) => metrics.setCacheSize(n),
    onMappingEvent: (r) => metrics.observeReload('config-map', r),
    onCredentialsEvent: (r) => metrics.observeReload('container-credentials', r),
  });
  const { serviceAccounts, mapping } = sources;
  const identity: IdentityService = {
    resolver: sources.resolver,
    async getPod(namespace, name) {
      try {
        return await api.core.readNamespacedPod({ namespace, name });
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    },
    notReady: () => sources.notSynced,
  };
  let served: Awaited<ReturnType<typeof serveWebhook>>;
  try {
    await sources.startFiles();
    served = await serveWebhook(config, logger, {
      ...opts, registry, metrics, identity,
      debugCache: () => ({ serviceAccounts: serviceAccounts.size, mappingEntries: mapping.current.size }),
      listening: { watchConfigMap: config.watchConfigMap, containerCredentials: sources.hasContainerCredentials },
    });
  } catch (err) {
    sources.stop();
    await api.close();
    throw err;
  }
  // the caches fill in the background; /readyz turns true once they are synced
  void sources.startWatches().then(() => logger.info({ serviceAccounts: serviceAccounts.size }, 'caches synced'));

  return {
    ...served, serviceAccounts, identity, sources,
    async stop() {
      await served.stop();
      sources.stop();
      await api.close();
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
