// What the real-node suites, the slow test and the demo do on the cluster the way a user would:
// an AWS account in the STS emulator, the chart installed with helm, application pods.
import path from 'node:path';
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { IMAGES, type RealCluster } from './cluster.ts';

export const CHART = path.join(import.meta.dirname, '..', '..', 'deploy', 'kube-irsa');
export const ACCOUNT = '111122223333';
export const roleArn = (name: string): string => `arn:aws:iam::${ACCOUNT}:role/${name}`;

/** A trust policy that lets the cluster's ServiceAccount `sub` assume the role with audience sts.amazonaws.com. */
export function trustPolicyFor(cluster: RealCluster, sub: string): unknown {
  const providerUrl = cluster.controlPlane.issuer.replace('https://', '');
  return {
    Version: '2012-10-17',
    Statement: [{
      Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${providerUrl}` }, Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringEquals: { [`${providerUrl}:sub`]: sub, [`${providerUrl}:aud`]: 'sts.amazonaws.com' } },
    }],
  };
}

/** The account with an IAM OIDC provider for the cluster's issuer, and roles trusting the given subjects. */
export async function setUpAccount(cluster: RealCluster, roles: Readonly<Record<string, string>>): Promise<void> {
  await cluster.emulator.apply(
    { op: 'addAccount', account: ACCOUNT },
    { op: 'putOidcProvider', account: ACCOUNT, spec: { url: cluster.controlPlane.issuer, clientIds: ['sts.amazonaws.com'] } },
    ...Object.entries(roles).map(([name, sub]) => ({ op: 'putRole' as const, account: ACCOUNT, spec: { name, trustPolicy: trustPolicyFor(cluster, sub) } })),
  );
}

/**
 * The demo's shop in `namespace`: ServiceAccounts `orders`, whose role trusts it, and `payments`,
 * whose role trusts another namespace (the classic mistake: TrustPolicyDenied), each annotated with
 * its role; the account and the namespace made first.
 */
export async function setUpShop(cluster: RealCluster, core: CoreV1Api, namespace: string): Promise<void> {
  await setUpAccount(cluster, { orders: `system:serviceaccount:${namespace}:orders`, payments: `system:serviceaccount:${namespace}-prod:payments` });
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  for (const sa of ['orders', 'payments']) {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: sa, annotations: { 'eks.amazonaws.com/role-arn': roleArn(sa) } } } });
  }
}

export interface ChartOptions {
  readonly tokenSource: 'kubelet' | 'token-request';
  readonly region: string;
  /** More `--set`-style arguments. */
  readonly extra?: readonly string[];
}

/** helm arguments that point the chart at this cluster: the local image, its STS, its kubelet. */
export function chartArgs(cluster: RealCluster, o: ChartOptions): string[] {
  const [repository, tag] = IMAGES.kubeIrsa.split(':') as [string, string];
  return [
    '--set', `image.repository=${repository}`, '--set', `image.tag=${tag}`, '--set', 'image.pullPolicy=Never', '--set', 'tls.mode=selfSigned',
    '--set', `webhook.awsDefaultRegion=${o.region}`,
    '--set', `agent.region=${o.region}`, '--set', `agent.stsEndpoint=${cluster.stsEndpoint}`,
    '--set', `agent.tokenSource=${o.tokenSource}`, '--set', `agent.kubeletRootDir=${cluster.node.kubeletRootDir}`,
    // the issuer's certificate is signed by the cluster CA, which every pod has
    '--set-string', 'agent.extraArgs.issuer-ca-file=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
    ...(o.extra ?? []),
  ];
}

/** `helm install|upgrade kube-irsa` into the kube-irsa namespace, waiting for the workloads. */
export async function helmKubeIrsa(cluster: RealCluster, verb: 'install' | 'upgrade', o: ChartOptions): Promise<void> {
  await cluster.helm([verb, 'kube-irsa', CHART, '--namespace', 'kube-irsa', ...(verb === 'install' ? ['--create-namespace'] : []),
    '--wait', '--timeout', '5m', ...chartArgs(cluster, o)]);
}

/** A pod of the test application (SDK default chain, GetCallerIdentity) under `serviceAccount`, as admitted. */
export function createAppPod(core: CoreV1Api, cluster: RealCluster, namespace: string, name: string, serviceAccount: string, labels: Record<string, string> = {}): Promise<V1Pod> {
  return core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, labels: { app: 'e2e', ...labels } },
      spec: {
        serviceAccountName: serviceAccount,
        terminationGracePeriodSeconds: 1,
        containers: [{
          name: 'app', image: IMAGES.app, imagePullPolicy: 'Never',
          // where this cluster's STS is, as a private endpoint would be configured
          env: [{ name: 'AWS_ENDPOINT_URL_STS', value: cluster.stsEndpoint }],
        }],
      },
    },
  });
}
