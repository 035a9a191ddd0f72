// `npm run test:slow` (root, about 12 minutes): the kubelet refreshes a pod's projected token and
// the agent, reading token files in kubelet mode, follows it. 600 s is the shortest lifetime a
// projected token may have and the kubelet replaces it at about 80 % of that, so this cannot be
// quick; it is not part of `npm test`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { eventually } from '../cluster/kube-helpers.ts';
import { realNodeUnavailable, startRealCluster, type RealCluster } from '../node/cluster.ts';
import { createAppPod, helmKubeIrsa, roleArn, setUpAccount } from '../node/workloads.ts';

const NS = 'refresh';
const LIFETIME_SECONDS = 600;
const unavailable = realNodeUnavailable();
if (unavailable) console.log(`# slow real-node tests skipped: ${unavailable}`);

interface TokenClaims { iat: number; exp: number }
interface CheckStatus { reason?: string; lastProbeTime?: string }

describe('projected token refresh on a real node', { skip: unavailable }, () => {
  let cluster: RealCluster;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;

  const claimsInPod = async (): Promise<TokenClaims> => JSON.parse(await cluster.kubectl(['exec', '-n', NS, 'app', '--', 'node', '-e',
    `const t=require('fs').readFileSync(process.env.AWS_WEB_IDENTITY_TOKEN_FILE,'utf8');process.stdout.write(Buffer.from(t.split('.')[1],'base64url').toString())`])) as TokenClaims;
  const check = async (): Promise<CheckStatus | undefined> =>
    ((await custom.getNamespacedCustomObject({ group: 'kube-irsa.io', version: 'v1alpha1', namespace: NS, plural: 'irsachecks', name: 'app' }).catch(() => undefined)) as { status?: CheckStatus } | undefined)?.status;

  before(async () => {
    cluster = await startRealCluster();
    core = cluster.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    custom = cluster.controlPlane.kubeConfig.makeApiClient(CustomObjectsApi);
    await setUpAccount(cluster, { app: `system:serviceaccount:${NS}:app` });
    await helmKubeIrsa(cluster, 'install', { tokenSource: 'kubelet', region: 'us-east-1', extra: ['--set', 'agent.recheckInterval=30s'] });
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'app', annotations: {
      'eks.amazonaws.com/role-arn': roleArn('app'), 'eks.amazonaws.com/token-expiration': String(LIFETIME_SECONDS),
    } } } });
  }, { timeout: 60 * 60_000 });

  after(async () => {
    await cluster?.stop();
  });

  test('the kubelet writes a new token before the old one expires, and the agent stays Healthy past the old expiry', { timeout: 20 * 60_000 }, async () => {
    await createAppPod(core, cluster, NS, 'app', 'app');
    const first = await eventually(() => claimsInPod().catch(() => undefined), 'the first token', 120_000, 1_000);
    assert.equal(first.exp - first.iat, LIFETIME_SECONDS);
    await eventually(async () => ((await check())?.reason === 'Healthy' ? true : undefined), 'the first Healthy verdict', 120_000, 1_000);

    const second = await eventually(async () => {
      const c = await claimsInPod();
      return c.iat > first.iat ? c : undefined;
    }, 'the kubelet to refresh the token', (LIFETIME_SECONDS + 60) * 1000, 10_000);
    assert.ok(second.iat < first.exp, `refreshed before the old token expired (iat ${second.iat}, old exp ${first.exp})`);
    console.log(`# token refreshed ${second.iat - first.iat} s after it was issued (${Math.round(((second.iat - first.iat) / LIFETIME_SECONDS) * 100)} % of its lifetime)`);

    // a probe made after the old token's expiry is Healthy only if the agent read the new file:
    // the old token would be TokenExpired
    const after = await eventually(async () => {
      const s = await check();
      return s?.lastProbeTime && Date.parse(s.lastProbeTime) / 1000 > first.exp + 5 ? s : undefined;
    }, 'a probe after the old token expired', (first.exp - Date.now() / 1000 + 120) * 1000, 5_000);
    assert.equal(after.reason, 'Healthy');
  });
});
