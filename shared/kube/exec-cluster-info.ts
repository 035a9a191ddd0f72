// An exec credential plugin that sets `provideClusterInfo: true` expects KUBERNETES_EXEC_INFO: an
// ExecCredential whose spec.cluster says which API server the credential is for (kubectl and
// client-go send it; cloud plugins use it to pick the cluster, or its CA). client-node runs exec
// plugins but does not send it, so it is added to the plugin's environment here.
import { readFileSync } from 'node:fs';
import type { Cluster, User } from '@kubernetes/client-node';

interface ExecEnvVar {
  readonly name: string;
  readonly value: string;
}

/** The KUBERNETES_EXEC_INFO value for `cluster` (client.authentication.k8s.io, the plugin's own apiVersion). */
export function execClusterInfo(cluster: Cluster, apiVersion: string): string {
  const caData = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString('base64') : undefined);
  return JSON.stringify({
    apiVersion, kind: 'ExecCredential',
    spec: {
      cluster: {
        server: cluster.server,
        ...(cluster.tlsServerName ? { 'tls-server-name': cluster.tlsServerName } : {}),
        ...(cluster.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}),
        ...(caData ? { 'certificate-authority-data': caData } : {}),
        ...(cluster.proxyUrl ? { 'proxy-url': cluster.proxyUrl } : {}),
      },
      interactive: false,
    },
  });
}

/** `user` with KUBERNETES_EXEC_INFO in its exec plugin's environment, or undefined when it asks for none. */
export function withExecClusterInfo(user: User, cluster: Cluster): User | undefined {
  const exec = user.exec as { provideClusterInfo?: unknown; apiVersion?: unknown; env?: readonly ExecEnvVar[] | null } | undefined;
  if (exec?.provideClusterInfo !== true) return undefined;
  const apiVersion = typeof exec.apiVersion === 'string' ? exec.apiVersion : 'client.authentication.k8s.io/v1';
  const env = [...(exec.env ?? []).filter((e) => e.name !== 'KUBERNETES_EXEC_INFO'), { name: 'KUBERNETES_EXEC_INFO', value: execClusterInfo(cluster, apiVersion) }];
  return { ...user, exec: { ...exec, env } };
}
