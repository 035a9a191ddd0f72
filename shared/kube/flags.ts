// The flags every component that talks to the API server takes, with the reference webhook's names.
import type { FlagSpecs } from '../cli/flags.ts';

export const KUBE_FLAGS = {
  kubeconfig: { kind: 'string', default: '', help: 'kubeconfig file (default: in-cluster configuration)' },
  'kube-api': { kind: 'string', default: '', help: 'API server URL, overriding the kubeconfig' },
} as const satisfies FlagSpecs;

export function requireApiServer(v: { kubeconfig: string; 'kube-api': string }, problems: string[]): void {
  if (v.kubeconfig === '' && v['kube-api'] === '' && !process.env.KUBERNETES_SERVICE_HOST) {
    problems.push('no Kubernetes API server: pass --kubeconfig (or --kube-api), or run inside a cluster');
  }
}
