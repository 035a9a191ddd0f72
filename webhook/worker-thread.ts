// One worker thread of --workers (see workers.ts): admissions on the shared port, from a mirror of
// the main thread's identity (identity-relay.ts: no API client here), answering the main thread's
// requests for its metrics and its stop.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { createLogger } from '../shared/logging.ts';
import { createRegistry } from '../shared/metrics.ts';
import { identityMirror } from './identity-relay.ts';
import { createWebhookMetrics } from './metrics.ts';
import { serveWebhook } from './serve.ts';
import type { FromWorker, ToWorker, WorkerData } from './workers.ts';

const port = parentPort;
if (!port) throw new Error('webhook/worker-thread.ts runs only as a worker thread of --workers');
const { config, identity: relayPort } = workerData as WorkerData;
const logger = createLogger({ component: 'webhook', level: config.logLevel }).child({ thread: threadId });
const send = (m: FromWorker) => port.postMessage(m);

try {
  const registry = createRegistry('webhook', { processMetrics: false });
  const metrics = createWebhookMetrics(registry);
  const identity = identityMirror(relayPort, config, (o) => metrics.observeLookup(o));
  await identity.start();
  const running = await serveWebhook(config, logger, { thread: true, registry, metrics, identity });
  port.on('message', (m: ToWorker) => {
    if (m.type === 'metrics') {
      void running.registry.getMetricsAsJSON().then((metrics) => send({ type: 'metrics', id: m.id, metrics }));
    } else {
      void running.stop().then(() => {
        identity.close();
        process.exit(0);
      });
    }
  });
  send({ type: 'listening', port: running.port });
} catch (err) {
  send({ type: 'failed', message: (err as Error).message });
  process.exit(1);
}
