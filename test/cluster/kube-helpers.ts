// Small helpers tests use against the real API server: unique namespaces (namespace deletion never
// completes without a controller manager, so every test gets its own), ServiceAccounts, Pods and
// TokenRequests bound to a Pod.
import { randomBytes } from 'node:crypto';
import { CoreV1Api, type KubeConfig, type V1Pod, type V1PodSpec, type V1ServiceAccount } from '@kubernetes/client-node';

export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export class KubeHelpers {
  readonly core: CoreV1Api;
  readonly kubeConfig: KubeConfig;

  constructor(kubeConfig: KubeConfig) {
    this.kubeConfig = kubeConfig;
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  /**
   * Creates a namespace with a unique name and its `default` ServiceAccount, which the (absent)
   * controller manager would create and the ServiceAccount admission plugin requires.
   */
  async createNamespace(prefix = 'test', labels: Record<string, string> = {}): Promise<string> {
    const name = uniqueName(prefix);
    await this.core.createNamespace({ body: { metadata: { name, labels } } });
    await this.core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } });
    return name;
  }

  createServiceAccount(namespace: string, name: string, annotations: Record<string, string> = {}): Promise<V1ServiceAccount> {
    return this.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name, annotations } } });
  }

  createPod(namespace: string, name: string, spec: Partial<V1PodSpec> = {}, meta: { annotations?: Record<string, string>; labels?: Record<string, string> } = {}, dryRun = false): Promise<V1Pod> {
    return this.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name, ...meta },
        spec: { containers: [{ name: 'app', image: PAUSE_IMAGE }], ...spec },
      },
      ...(dryRun ? { dryRun: 'All' } : {}),
    });
  }

  /** A TokenRequest for the ServiceAccount bound to the Pod, as the kubelet would make it. */
  async tokenForPod(pod: V1Pod, opts: { audiences: string[]; expirationSeconds?: number }): Promise<string> {
    const namespace = pod.metadata?.namespace ?? '';
    const res = await this.core.createNamespacedServiceAccountToken({
      namespace,
      name: pod.spec?.serviceAccountName ?? 'default',
      body: {
        spec: {
          audiences: opts.audiences,
          expirationSeconds: opts.expirationSeconds ?? 3600,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' },
        },
      },
    });
    const token = res.status?.token;
    if (!token) throw new Error('TokenRequest returned no token');
    return token;
  }
}

/** Polls `probe` until it returns a value other than undefined, or fails with the last reason. */
export async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}
