// --workers N: the main thread and N-1 worker threads of one process serve admissions on the same
// port (SO_REUSEPORT: the kernel spreads connections), so TLS and admissions use every core while
// the process keeps one copy of Node itself (processes of node:cluster cost ~60 MiB each, measured
// in test/bench). Only the main thread holds the API client and the watches: the worker threads
// admit from a mirror of its caches (identity-relay.ts). The main thread also serves /metrics (process metrics plus
// every thread's metrics summed), starts a thread again if one dies, and stops them all on SIGTERM.
import { once } from 'node:events';
import { MessageChannel, Worker } from 'node:worker_threads';
import { AggregatorRegistry, Registry } from 'prom-client';
import type { Logger } from '../shared/logging.ts';
import { createRegistry } from '../shared/metrics.ts';
import { VERSION } from '../shared/version.ts';
import type { MessagePort } from 'node:worker_threads';
import type { WebhookConfig } from './config.ts';
import type { RunningWebhook, StartOptions } from './running.ts';
import { serveIdentityRelay } from './identity-relay.ts';
import { buildAggregatedMetricsApp } from './server.ts';

/** A thread's metrics as prom-client's getMetricsAsJSON gives them (structured-cloneable). */
export type ThreadMetrics = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** What the main thread tells a worker thread. */
export type ToWorker = { readonly type: 'metrics'; readonly id: number } | { readonly type: 'stop' };
/** What a worker thread tells the main thread. */
export type FromWorker =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'metrics'; readonly id: number; readonly metrics: ThreadMetrics }
  | { readonly type: 'failed'; readonly message: string };

export interface WorkerData {
  readonly config: WebhookConfig;
  /** The worker's end of its identity mirror (identity-relay.ts). */
  readonly identity: MessagePort;
}

const WORKER_ENTRY = new URL(`./worker-thread.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
/**
 * A worker thread's young generation, in MiB: V8's default lets each isolate keep ~16 MiB more
 * resident; 8 keeps two threads within the reference's memory at 100,000 ServiceAccounts while
 * scavenges stay short (test/bench).
 */
const WORKER_YOUNG_GENERATION_MB = 8;

/** `startLocal` is main.ts's startWebhook (passed in: main.ts is the module that imports this one). */
export async function startWebhookWorkers(config: WebhookConfig, logger: Logger,
  startLocal: (config: WebhookConfig, logger: Logger, opts: StartOptions) => Promise<RunningWebhook>): Promise<{ stop(): Promise<void> }> {
  let stopping = false;
  const threads = new Set<Worker>();
  // the main thread listens first (with --port=0 it picks the port); the worker threads join it
  const local = await startLocal(config, logger, { thread: true });
  const port = local.port;

  const spawn = async (): Promise<Worker> => {
    const relay = new MessageChannel();
    const worker = new Worker(WORKER_ENTRY, {
      workerData: { config: { ...config, port }, identity: relay.port2 } satisfies WorkerData,
      transferList: [relay.port2],
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    const stopRelay = serveIdentityRelay(relay.port1, local.sources, local.identity);
    worker.once('exit', stopRelay);
    threads.add(worker);
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'listening') resolve();
        else if (m.type === 'failed') reject(new Error(m.message));
      });
      worker.once('exit', (code) => reject(new Error(`a webhook thread exited with code ${code} while starting`)));
    });
    worker.once('exit', (code) => {
      threads.delete(worker);
      if (stopping) return;
      logger.error({ threadId: worker.threadId, code }, 'webhook thread died; starting another');
      setTimeout(() => void spawn().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'webhook thread failed to start')), 1_000).unref();
    });
    await ready;
    return worker;
  };

  try {
    await Promise.all(Array.from({ length: config.workers - 1 }, () => spawn()));
  } catch (err) {
    stopping = true;
    await Promise.all([...threads].map((t) => t.terminate()));
    await local.stop();
    throw err;
  }

  // process metrics once, from the main thread: the threads share the process
  const processRegistry = createRegistry('webhook');
  let nextId = 0;
  const threadMetrics = (worker: Worker): Promise<ThreadMetrics> => new Promise((resolve) => {
    const id = nextId++;
    const onMessage = (m: FromWorker) => {
      if (m.type === 'metrics' && m.id === id) {
        worker.off('message', onMessage);
        clearTimeout(timer);
        resolve(m.metrics);
      }
    };
    // a thread that does not answer (dying, stuck) leaves its metrics out of this scrape
    const timer = setTimeout(() => {
      worker.off('message', onMessage);
      resolve([]);
    }, 5_000);
    worker.on('message', onMessage);
    worker.postMessage({ type: 'metrics', id } satisfies ToWorker);
  });
  const collect = async (): Promise<Registry> => {
    const perThread = await Promise.all([local.registry.getMetricsAsJSON(), ...[...threads].map(threadMetrics)]);
    return Registry.merge([processRegistry, AggregatorRegistry.aggregate(perThread.filter((m) => m.length > 0))]);
  };
  const metricsApp = buildAggregatedMetricsApp(collect, logger);
  const host = config.bindAddress || '::';
  await metricsApp.listen({ port: config.metricsPort, host });
  const metricsPort = (metricsApp.server.address() as { port: number }).port;
  logger.info({ version: VERSION, workers: config.workers, port, metricsPort }, 'webhook main thread started');

  return {
    async stop() {
      stopping = true;
      await Promise.all([local.stop(), ...[...threads].map(async (t) => {
        const exited = once(t, 'exit');
        t.postMessage({ type: 'stop' } satisfies ToWorker);
        await exited;
      })]);
      await metricsApp.close();
      logger.info('webhook stopped');
    },
  };
}
