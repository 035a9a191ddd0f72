// Restarts and rollouts: SIGTERM under load completes every in-flight admission; the API server
// restarted under a running webhook and agent: known ServiceAccounts keep being served, watches
// resume, the agent resumes, and no burst of duplicate Events follows.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { AGENT_FLAGS, buildAgentConfig } from '../../agent/config.ts';
import { startAgent, type RunningAgent } from '../../agent/main.ts';
import { parseFlags } from '../../shared/cli/flags.ts';
import { freePorts, startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { httpsRequest } from '../cluster/https.ts';
import { eventually, KubeHelpers } from '../cluster/kube-helpers.ts';
import { issueCertificate } from '../cluster/pki.ts';
import { StsEmulator } from '../sts-emulator/emulator.ts';
import { writeFile } from 'node:fs/promises';
import { startWebhookHarness, TEST_NAMESPACE_LABEL, waitForMutation, type WebhookHarness } from '../support/webhook-harness.ts';

const CLI = path.join(import.meta.dirname, '..', '..', 'bin', 'kube-irsa');
const ROLE = 'arn:aws:iam::111122223333:role/app';

function reviewFor(namespace: string, serviceAccount: string, uid: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, namespace, operation: 'CREATE', object: { metadata: { name: uid }, spec: { serviceAccountName: serviceAccount, containers: [{ name: 'c', image: 'x' }] } } },
  });
}

describe('restarts and rollouts', () => {
  let cp: ControlPlane;
  let kube: KubeHelpers;
  before(async () => {
    cp = await startControlPlane();
    kube = new KubeHelpers(cp.kubeConfig);
  });
  after(async () => {
    await cp?.stop();
  });

  test('SIGTERM under load: every admission already received completes', async () => {
    const ns = await kube.createNamespace('drain');
    await kube.createServiceAccount(ns, 'app', { 'eks.amazonaws.com/role-arn': ROLE });
    const cert = await issueCertificate(cp.ca, cp.dir, { name: 'drain', commonName: '127.0.0.1', ips: ['127.0.0.1'] });
    const [port, metricsPort] = await freePorts(2);
    const child = spawn(CLI, ['webhook', '--kubeconfig', cp.kubeconfigPath, `--port=${port}`, `--metrics-port=${metricsPort}`, '--bind-address=127.0.0.1', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    await eventually(async () => ((await httpsRequest(`https://127.0.0.1:${port}/readyz`, { ca: cp.ca.certPem }).catch(() => undefined))?.status === 200 ? true : undefined), 'the webhook to be ready');

    const agent = new https.Agent({ keepAlive: true, maxSockets: 32, ca: cp.ca.certPem });
    let sigtermAt = Infinity;
    const outcomes: Array<{ sentAt: number; ok: boolean; error?: string }> = [];
    const send = (uid: string) => new Promise<void>((resolve) => {
      const sentAt = Date.now();
      const body = reviewFor(ns, 'app', uid);
      const req = https.request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          const ok = res.statusCode === 200 && (JSON.parse(text) as { response: { uid: string; patch?: string } }).response.uid === uid;
          outcomes.push({ sentAt, ok, ...(ok ? {} : { error: `HTTP ${res.statusCode}` }) });
          resolve();
        });
      });
      req.on('error', (err) => {
        outcomes.push({ sentAt, ok: false, error: err.message });
        resolve();
      });
      req.end(body);
    });
    let stop = false;
    const loaders = Array.from({ length: 32 }, async (_, w) => {
      for (let i = 0; !stop; i++) await send(`w${w}-${i}`);
    });
    // steady load (warmed up, latencies settled) before SIGTERM: this is a duration, not a wait for something to happen
    await new Promise((r) => setTimeout(r, 1500));
    sigtermAt = Date.now();
    child.kill('SIGTERM');
    assert.equal(await exited, 0, 'the webhook exits cleanly');
    stop = true;
    await Promise.all(loaders);
    agent.destroy();
    const before = outcomes.filter((o) => o.sentAt < sigtermAt - 50);
    assert.ok(before.length > 100, `requests flowed before SIGTERM (${before.length})`);
    const failedBefore = before.filter((o) => !o.ok);
    assert.deepEqual(failedBefore.map((o) => o.error), [], 'every admission sent before SIGTERM completed');
    const after = outcomes.filter((o) => o.sentAt > sigtermAt + 100 && o.ok);
    assert.equal(after.length, 0, 'no new admission is taken after SIGTERM');
  });

  describe('the API server restarted under a running webhook and agent', () => {
    let hook: WebhookHarness;
    let sts: StsEmulator;
    let agent: RunningAgent;
    let ns: string;
    before(async () => {
      const providerUrl = cp.issuer.replace('https://', '');
      sts = await StsEmulator.start({
        extraCaPems: [cp.ca.certPem],
        config: { accounts: [{ id: '111122223333', oidcProviders: [{ url: cp.issuer, clientIds: ['sts.amazonaws.com'] }], roles: [{ name: 'app', trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: `arn:aws:iam::111122223333:oidc-provider/${providerUrl}` }, Action: 'sts:AssumeRoleWithWebIdentity' }] } }] }] },
      });
      hook = await startWebhookHarness(cp);
      await hook.register({ failurePolicy: 'Fail' });
      ns = await kube.createNamespace('restart', { [TEST_NAMESPACE_LABEL]: 'on' });
      await kube.createServiceAccount(ns, 'app', { 'eks.amazonaws.com/role-arn': ROLE });
      await waitForMutation(kube, ns, 'app');
      const caFile = path.join(cp.dir, 'restart-ca.pem');
      await writeFile(caFile, cp.ca.certPem);
      const { values } = parseFlags(AGENT_FLAGS, ['--node-name=node-r', '--kubeconfig', cp.kubeconfigPath, '--token-source=token-request', `--sts-endpoint=${sts.endpoint}`,
        `--issuer-ca-file=${caFile}`, '--recheck-interval=2s', '--port=0', '--bind-address=127.0.0.1']);
      agent = await startAgent(buildAgentConfig(values).config, pino({ level: 'silent' }));
    });
    after(async () => {
      await agent?.stop();
      await hook?.stop();
      await sts?.stop();
    });

    test('known ServiceAccounts keep being served, watches resume, the agent resumes, no burst of Events', async () => {
      await kube.createPod(ns, 'before-0', { serviceAccountName: 'app', nodeName: 'node-r' });
      await eventually(() => (agent.agent.podVerdict(ns, 'before-0')?.reason === 'Healthy' ? true : undefined), 'the first verdict');
      await agent.agent.settle();
      const eventsBefore = (await kube.core.listNamespacedEvent({ namespace: ns })).items.length;

      let served = 0;
      const restart = cp.restartApiServer(4_000);
      // while the API server is down, admissions for known ServiceAccounts are still answered
      await new Promise((r) => setTimeout(r, 1_500));
      for (let i = 0; i < 5; i++) {
        const res = await httpsRequest(hook.url, { ca: cp.ca.certPem, method: 'POST', headers: { 'content-type': 'application/json' }, body: reviewFor(ns, 'app', `down-${i}`) });
        if ((JSON.parse(res.body) as { response: { patch?: string } }).response.patch) served++;
      }
      await restart;
      assert.equal(served, 5, 'mutations served from the cache while the API server was down');

      // the watches resume: a ServiceAccount created after the restart is honoured without a live lookup
      await kube.createServiceAccount(ns, 'after', { 'eks.amazonaws.com/role-arn': `${ROLE}-after` });
      await eventually(() => (hook.webhook.serviceAccounts.peek(ns, 'after')?.roleArn === `${ROLE}-after` ? true : undefined), 'the webhook\'s watch to resume', 60_000);
      const pod = await kube.createPod(ns, 'after-0', { serviceAccountName: 'after', nodeName: 'node-r' });
      assert.equal(pod.spec?.containers[0]?.env?.find((e) => e.name === 'AWS_ROLE_ARN')?.value, `${ROLE}-after`);

      // the agent resumes: a pod created after the restart gets its verdict
      await kube.createPod(ns, 'again-0', { serviceAccountName: 'app', nodeName: 'node-r' });
      await eventually(() => (agent.agent.podVerdict(ns, 'again-0')?.reason === 'Healthy' ? true : undefined), 'the agent to resume', 60_000);
      await agent.agent.settle();
      // the pod seen before the restart has been checked again since the relist
      const dueAfterRelist = agent.agent.nextCheckAt(ns, 'before-0') ?? Date.now();
      await eventually(() => ((agent.agent.nextCheckAt(ns, 'before-0') ?? 0) > dueAfterRelist ? true : undefined), 'a recheck of the pod seen before the restart', 30_000, 50);
      await agent.agent.settle();
      const events = (await kube.core.listNamespacedEvent({ namespace: ns })).items;
      const forBefore = events.filter((e) => e.involvedObject.name === 'before-0');
      assert.equal(forBefore.length, 1, `no duplicate Events for a pod seen before the restart (${forBefore.map((e) => e.reason).join(', ')})`);
      const newOnes = events.length - eventsBefore;
      assert.ok(newOnes <= 4, `Events after the restart are only about the new pods and ServiceAccount (${events.map((e) => `${e.involvedObject.kind}/${e.involvedObject.name}:${e.reason ?? ''}`).join(', ')})`);
    });
  });
});
