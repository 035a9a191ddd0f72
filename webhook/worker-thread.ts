// One worker thread of --workers (see workers.ts): a whole webhook on the shared port, answering the
// main thread's requests for its metrics and its stop.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { createLogger } from '../shared/logging.ts';
import { startWebhook } from './main.ts';
import type { FromWorker, ToWorker, WorkerData } from './workers.ts';

const port = parentPort;
if (!port) throw new Error('webhook/worker-thread.ts runs only as a worker thread of --workers');
const { config } = workerData as WorkerData;
const logger = createLogger({ component: 'webhook', level: config.logLevel }).child({ thread: threadId });
const send = (m: FromWorker) => port.postMessage(m);

try {
  const running = await startWebhook(config, logger, { thread: true });
  port.on('message', (m: ToWorker) => {
    if (m.type === 'metrics') {
      void running.registry.getMetricsAsJSON().then((metrics) => send({ type: 'metrics', id: m.id, metrics }));
    } else {
      void running.stop().then(() => process.exit(0));
    }
  });
  send({ type: 'listening', port: running.port });
} catch (err) {
  send({ type: 'failed', message: (err as Error).message });
  process.exit(1);
}
