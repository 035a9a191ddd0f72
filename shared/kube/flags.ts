// The flags every component that talks to the API server takes: the reference webhook's names, and
// kubectl's --context.
import type { FlagSpecs } from '../cli/flags.ts';
import { hasApiServerSource, type KubeConfigOptions } from './config.ts';

export const KUBE_FLAGS = {
  kubeconfig: { kind: 'string', default: '', help: 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster configuration)' },
  context: { kind: 'string', default: '', help: 'the kubeconfig context to use (default: its current-context)' },
  'kube-api': { kind: 'string', default: '', help: 'API server URL, overriding the kubeconfig' },
} as const satisfies FlagSpecs;

export function requireApiServer(v: { kubeconfig: string; 'kube-api': string }, problems: string[]): void {
  if (!hasApiServerSource({ kubeconfig: v.kubeconfig, kubeApi: v['kube-api'] })) {
    problems.push('no Kubernetes API server: pass --kubeconfig (or --kube-api), set $KUBECONFIG or ~/.kube/config, or run inside a cluster');
  }
}

/** The KubeConfig options the kube flags give. */
export function kubeConfigOptions(v: { kubeconfig: string; context: string; 'kube-api': string }): KubeConfigOptions {
  return { kubeconfig: v.kubeconfig || undefined, context: v.context || undefined, kubeApi: v['kube-api'] || undefined };
}
