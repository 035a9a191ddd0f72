// The pods on this node: one watch (fieldSelector spec.nodeName), each pod kept compact (only what
// the checks read), with the time its uid was first seen. Finished and terminating pods are gone.
import type { Logger } from 'pino';
import { INJECTED_ANNOTATION, SKIP_LABEL } from '../../shared/identity/injection.ts';
import type { KubeApi } from '../../shared/kube/api.ts';
import { corePath, type Pod } from '../../shared/kube/objects.ts';
import { createReflector, type Reflector } from '../../shared/kube/reflector.ts';
import type { AgentPod } from '../core/pod-checks.ts';
import type { Clock } from '../checks/schedule.ts';

/** Keeps what the checks read of a Pod, so a node's pods cost little memory. */
export function compactPod(p: Pod, prefix: string): AgentPod {
  const containers = (list: NonNullable<Pod['spec']>['containers'] | undefined) => (list ?? []).map((c) => ({
    name: c.name,
    // values only where the checks read them; of a valueFrom only the reference's name (never a value)
    env: (c.env ?? []).filter((e) => e.name.startsWith('AWS_') && (e.value !== undefined || e.valueFrom?.secretKeyRef || e.valueFrom?.configMapKeyRef)).map((e) => (e.value !== undefined ? { name: e.name, value: e.value } : {
      name: e.name,
      valueFrom: e.valueFrom?.secretKeyRef ? { secretKeyRef: { name: e.valueFrom.secretKeyRef.name ?? '' } } : { configMapKeyRef: { name: e.valueFrom?.configMapKeyRef?.name ?? '' } },
    })),
    ...(c.envFrom?.length ? { envFrom: c.envFrom.map((f) => ({ ...(f.prefix ? { prefix: f.prefix } : {}), ...(f.secretRef ? { secretRef: { name: f.secretRef.name ?? '' } } : {}), ...(f.configMapRef ? { configMapRef: { name: f.configMapRef.name ?? '' } } : {}) })) } : {}),
    volumeMounts: (c.volumeMounts ?? []).map((m) => ({ name: m.name, mountPath: m.mountPath })),
  }));
  const annotations = Object.fromEntries(Object.entries(p.metadata?.annotations ?? {}).filter(([k]) => k === INJECTED_ANNOTATION || k.startsWith(`${prefix}/`)));
  const skip = p.metadata?.labels?.[SKIP_LABEL];
  return {
    metadata: {
      name: p.metadata?.name ?? '', namespace: p.metadata?.namespace ?? '', uid: p.metadata?.uid ?? '', annotations,
      ...(skip !== undefined ? { labels: { [SKIP_LABEL]: skip } } : {}),
      ...(p.metadata?.deletionTimestamp ? { deletionTimestamp: true } : {}),
    },
    spec: {
      nodeName: p.spec?.nodeName ?? '', serviceAccountName: p.spec?.serviceAccountName ?? '',
      containers: containers(p.spec?.containers), initContainers: containers(p.spec?.initContainers),
      volumes: (p.spec?.volumes ?? []).filter((v) => v.projected?.sources?.some((s) => s.serviceAccountToken)).map((v) => ({
        name: v.name,
        projected: { sources: (v.projected?.sources ?? []).filter((s) => s.serviceAccountToken).map((s) => ({ serviceAccountToken: { audience: s.serviceAccountToken?.audience ?? '', expirationSeconds: s.serviceAccountToken?.expirationSeconds ?? 0, path: s.serviceAccountToken?.path ?? '' } })) },
      })),
    },
    status: { phase: p.status?.phase ?? '' },
  };
}

export interface NodePodsHandlers {
  /** A pod to check (new, changed, or recreated under the same name). */
  readonly changed: (key: string) => void;
  readonly gone: (key: string) => void;
}

/** Pods keyed `namespace/name`; a pod recreated under the same name starts afresh. */
export class NodePods {
  private readonly pods = new Map<string, AgentPod>();
  private readonly firstSeen = new Map<string, number>();
  private readonly clock: Clock;
  private readonly handlers: NodePodsHandlers;

  constructor(opts: { clock: Clock; handlers: NodePodsHandlers }) {
    this.clock = opts.clock;
    this.handlers = opts.handlers;
  }

  get size(): number {
    return this.pods.size;
  }

  get(key: string): AgentPod | undefined {
    return this.pods.get(key);
  }

  firstSeenAt(key: string): number {
    return this.firstSeen.get(key) ?? this.clock.now();
  }

  entries(): IterableIterator<[string, AgentPod]> {
    return this.pods.entries();
  }

  upsert(key: string, pod: AgentPod): void {
    const previous = this.pods.get(key);
    const recreated = previous !== undefined && previous.metadata?.uid !== pod.metadata?.uid;
    if (recreated) this.handlers.gone(key);
    this.pods.set(key, pod);
    if (!this.firstSeen.has(key) || recreated) this.firstSeen.set(key, this.clock.now());
    if (pod.metadata?.deletionTimestamp || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') this.remove(key);
    else this.handlers.changed(key);
  }

  remove(key: string): void {
    this.pods.delete(key);
    this.firstSeen.delete(key);
    this.handlers.gone(key);
  }

  replace(entries: ReadonlyMap<string, AgentPod>): void {
    for (const key of [...this.pods.keys()]) if (!entries.has(key)) this.remove(key);
    for (const [key, pod] of entries) this.upsert(key, pod);
  }

  /** The watch that feeds this store (not started). */
  reflector(opts: { api: KubeApi; nodeName: string; annotationPrefix: string; logger: Logger }): Reflector {
    const { api } = opts;
    return createReflector<Pod, AgentPod>({
      api, resource: 'pods', list: (r) => api.core.listPodForAllNamespaces(r), watchPath: corePath('pods'),
      fieldSelector: `spec.nodeName=${opts.nodeName}`, logger: opts.logger,
      transform: (p) => compactPod(p, opts.annotationPrefix), handlers: this,
    });
  }
}
