// One prom-client Registry per component instance (nothing registers at import time, so tests can
// run several instances in one process), with process metrics and kube_irsa_build_info.
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { VERSION } from './version.ts';

/**
 * `processMetrics: false` for a worker thread: the process metrics and build info come once, from
 * the main thread, which adds the threads' own metrics to them.
 */
export function createRegistry(component: string, opts: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.processMetrics === false) return registry;
  collectDefaultMetrics({ register: registry });
  const info = new Gauge({
    name: 'kube_irsa_build_info',
    help: 'Build information of kube-irsa; always 1.',
    labelNames: ['component', 'version', 'node_version'] as const,
    aggregator: 'max',
    registers: [registry],
  });
  info.set({ component, version: VERSION, node_version: process.versions.node }, 1);
  return registry;
}
