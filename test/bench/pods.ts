// The admission requests the webhook benchmarks send: a small pod (one container), a typical one
// (3 containers, ~4 KB) and a large one (30 containers), wrapped in an AdmissionReview.
import { randomUUID } from 'node:crypto';

function container(i: number, envCount: number): Record<string, unknown> {
  return {
    name: `c${i}`, image: `registry.example.com/team/app-${i}:1.2.3`,
    args: ['--listen=:8080', '--log-level=info'],
    ports: [{ name: 'http', containerPort: 8080 + i }],
    env: Array.from({ length: envCount }, (_, j) => ({ name: `SETTING_${j}`, value: `value-${i}-${j}` })),
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    readinessProbe: { httpGet: { path: '/ready', port: 8080 + i }, periodSeconds: 5 },
    volumeMounts: [{ name: 'config', mountPath: `/etc/app-${i}` }],
  };
}

export function podOfSize(size: 'small' | 'typical' | 'large', namespace: string): Record<string, unknown> {
  const containers = size === 'small' ? [{ name: 'app', image: 'app:1' }] : Array.from({ length: size === 'typical' ? 3 : 30 }, (_, i) => container(i, 10));
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: `bench-${size}`, namespace, labels: { app: 'bench', tier: 'backend' } },
    spec: { serviceAccountName: 'app', containers, volumes: size === 'small' ? [] : [{ name: 'config', configMap: { name: 'app-config' } }] },
  };
}

export function review(pod: Record<string, unknown>, namespace: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: {
      uid: randomUUID(), kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' },
      namespace, operation: 'CREATE', userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' }, object: pod, dryRun: false,
    },
  });
}
