// One prom-client Registry per component instance (nothing registers at import time, so tests can
// run several instances in one process), with process metrics and kube_irsa_build_info.
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { VERSION } from './version.ts';

export function createRegistry(component: string): Registry {
  const registry = new Registry();
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
