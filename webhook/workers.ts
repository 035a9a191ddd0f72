// --workers N: the main thread and N-1 worker threads of one process serve admissions on the same
// port (SO_REUSEPORT: the kernel spreads connections), so TLS and admissions use every core while
// the process keeps one copy of Node itself (processes of node:cluster cost ~60 MiB each, measured
// in test/bench). Only the main thread holds the API client and the watches: the worker threads
// admit from a mirror of its caches (identity-relay.ts). The main thread also serves /metrics (process metrics plus
// every thread's metrics summed), starts a thread again if one dies, and stops them all on SIGTERM.
// With --worker-idle-timeout the threads beyond the main one are elastic (thread-scaling.ts): they
// start when the running threads are busy and stop after the load has long fit in fewer.
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { AggregatorRegistry, Gauge, Registry } from 'prom-client';
import type { Logger } from '../shared/logging.ts';
import { createRegistry } from '../shared/metrics.ts';
import { VERSION } from '../shared/version.ts';
import type { MessagePort } from 'node:worker_threads';
import type { WebhookConfig } from './config.ts';
import type { RunningWebhook, StartOptions } from './running.ts';
import { serveIdentityRelay } from './identity-relay.ts';
import { buildAggregatedMetricsApp } from './server.ts';
import { connectionsToShed, DEFAULT_SCALING, ThreadScaler } from './thread-scaling.ts';

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
/** How often each thread's event-loop utilization is sampled to scale threads and spread connections. */
const SAMPLE_MS = 500;

/** `startLocal` is main.ts's startWebhook (passed in: main.ts is the module that imports this one). */
export async function startWebhookWorkers(config: WebhookConfig, logger: Logger,
  startLocal: (config: WebhookConfig, logger: Logger, opts: StartOptions) => Promise<RunningWebhook>): Promise<{ stop(): Promise<void> }> {
  let stopping = false;
  /** The worker threads running, by their slot (1..--workers - 1: the label of their metrics). */
  const threads = new Map<Worker, string>();
  const freeSlot = (): string => {
    const used = new Set(threads.values());
    let slot = 1;
    while (used.has(String(slot))) slot++;
    return String(slot);
  };
  /** Threads asked to stop because they were idle: their exit is not a death. */
  const retiring = new WeakSet<Worker>();
  const elastic = config.workerIdleTimeoutMs > 0;
  // the main thread listens first (with --port=0 it picks the port); the worker threads join it
  const local = await startLocal(config, logger, { thread: true, shedsConnections: true });
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
    threads.set(worker, freeSlot());
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'listening') resolve();
        else if (m.type === 'failed') reject(new Error(m.message));
      });
      worker.once('exit', (code) => reject(new Error(`a webhook thread exited with code ${code} while starting`)));
    });
    worker.once('exit', (code) => {
      threads.delete(worker);
      if (stopping || retiring.has(worker)) return;
      logger.error({ threadId: worker.threadId, code }, elastic ? 'webhook thread died; another starts when the load needs it' : 'webhook thread died; starting another');
      if (!elastic) setTimeout(() => void spawn().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'webhook thread failed to start')), 1_000).unref();
    });
    await ready;
    return worker;
  };
  const stopThread = async (worker: Worker): Promise<void> => {
    if (worker.threadId === -1) return; // exited already
    retiring.add(worker);
    const exited = once(worker, 'exit');
    worker.postMessage({ type: 'stop' } satisfies ToWorker);
    await exited;
  };

  try {
    // elastic: one thread until the load asks for more
    if (!elastic) await Promise.all(Array.from({ length: config.workers - 1 }, () => spawn()));
  } catch (err) {
    stopping = true;
    await Promise.all([...threads.keys()].map((t) => t.terminate()));
    await local.stop();
    throw err;
  }

  // each sample: every thread's event-loop utilization since the last one
  const scaler = new ThreadScaler({ ...DEFAULT_SCALING, maxThreads: config.workers, idleMs: elastic ? config.workerIdleTimeoutMs : Infinity }, Date.now());
  const lastUtilization = new WeakMap<Worker, EventLoopUtilization>();
  let lastMain = performance.eventLoopUtilization();
  /** Each thread's event-loop utilization over the last sample, by slot ('0': the main thread). */
  let utilizationBySlot = new Map<string, number>();
  let changing = false;
  /** After a thread failed to start or stop, the next change waits (no retry every sample). */
  let nextChangeAt = 0;
  const sample = () => {
    const main = performance.eventLoopUtilization(lastMain).utilization;
    lastMain = performance.eventLoopUtilization();
    const running = [...threads.keys()];
    const utilization = [main, ...running.map((w) => {
      const now = w.performance.eventLoopUtilization();
      const prev = lastUtilization.get(w);
      lastUtilization.set(w, now);
      return prev ? w.performance.eventLoopUtilization(now, prev).utilization : 0;
    })];
    utilizationBySlot = new Map([['0', main], ...running.map((w, i): [string, number] => [threads.get(w) ?? '?', utilization[i + 1] ?? 0])]);
    const open = local.connections?.open ?? 0;
    const shed = connectionsToShed(main, utilization, open);
    local.connections?.shed(shed);
    if (shed > 0) logger.info({ connections: shed, of: open, utilization: utilization.map((u) => Number(u.toFixed(2))) }, 'main thread busier than the others: closing some keep-alive connections after their answer, so that clients reconnect to any thread');
    if (changing || stopping || Date.now() < nextChangeAt) return;
    const decision = scaler.decide(Date.now(), utilization);
    if (decision === 'hold') return;
    changing = true;
    const change = decision === 'add'
      ? spawn().then((w) => logger.info({ threadId: w.threadId, threads: threads.size + 1 }, 'admissions busy: webhook thread started'))
      : stopThread(running[running.length - 1]!).then(() => logger.info({ threads: threads.size + 1 }, 'admissions idle: webhook thread stopped'));
    void change.catch((err: unknown) => {
      nextChangeAt = Date.now() + 5_000;
      logger.error({ err: (err as Error).message }, `webhook thread failed to ${decision === 'add' ? 'start' : 'stop'}`);
    }).finally(() => (changing = false));
  };
  const sampler = setInterval(sample, SAMPLE_MS);
  sampler.unref();

  // process metrics once, from the main thread: the threads share the process
  const processRegistry = createRegistry('webhook');
  new Gauge({
    name: 'kube_irsa_webhook_threads', help: 'Threads serving admissions now (the main one included; --workers is the most).', registers: [processRegistry],
    collect() {
      this.set(threads.size + 1);
    },
  });
  new Gauge({
    name: 'kube_irsa_webhook_thread_utilization', help: 'Each admission thread\'s event-loop utilization (0-1) over the last half second; thread="0" is the main thread.',
    labelNames: ['thread'], registers: [processRegistry],
    collect() {
      this.reset();
      for (const [thread, u] of utilizationBySlot) this.set({ thread }, u);
    },
  });
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
    const perThread = await Promise.all([local.registry.getMetricsAsJSON(), ...[...threads.keys()].map(threadMetrics)]);
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
      clearInterval(sampler);
      await Promise.all([local.stop(), ...[...threads.keys()].map(stopThread)]);
      await metricsApp.close();
      logger.info('webhook stopped');
    },
  };
}
