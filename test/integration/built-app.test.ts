// The app as the image ships it (Dockerfile stage 1: scripts/bundle.ts, bundled JavaScript only)
// runs the same as the checkout: the launcher picks the .js entry, the webhook admits through the
// real API server's data, offline commands print what the sources print, and the source maps lead
// back to the TypeScript sources (the launcher runs the bundle with --enable-source-maps).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { globSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { httpsRequest } from '../cluster/https.ts';
import { eventually, KubeHelpers } from '../cluster/kube-helpers.ts';
import { issueCertificate } from '../cluster/pki.ts';
import { buildApp } from '../support/built-app.ts';

const run = promisify(execFile);
const SOURCE_CLI = path.join(import.meta.dirname, '..', '..', 'bin', 'kube-irsa');
const ROLE = 'arn:aws:iam::111122223333:role/built';

describe('the built app (image layout)', () => {
  let dir: string;
  let cli: string;
  let cp: ControlPlane;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-built-'));
    [cli, cp] = await Promise.all([buildApp(path.join(dir, 'app')), startControlPlane()]);
  });
  after(async () => {
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('only bundled JavaScript is shipped (no dependency installed), and the launcher runs it', async () => {
    const app = path.join(dir, 'app');
    const ours = (f: string) => f === 'node_modules';
    assert.deepEqual(globSync('**/*.ts', { cwd: app, exclude: ours }), []);
    assert.deepEqual(globSync('node_modules/*', { cwd: app }), ['node_modules/node'], 'only Node itself, which the image\'s base provides');
    const js = globSync('**/*.js', { cwd: app, exclude: ours });
    assert.ok(js.includes('bin/kube-irsa.js') && js.includes('bin/worker-thread.js'), js.join(', '));
    const maps = globSync('bin/*.js.map', { cwd: app });
    assert.ok(maps.includes('bin/kube-irsa.js.map') && maps.includes('bin/worker-thread.js.map'), maps.join(', '));
    const sources = maps.flatMap((f) => (JSON.parse(readFileSync(path.join(app, f), 'utf8')) as { sources: string[] }).sources);
    assert.deepEqual(sources.filter((s) => s.includes('node_modules')), [], 'the maps hold kube-irsa\'s own sources only');
    for (const source of ['bin/kube-irsa.ts', 'webhook/worker-thread.ts', 'shared/kube/reflector.ts', 'agent/agent.ts']) {
      assert.ok(sources.some((s) => s.endsWith(source)), `the maps lead back to ${source}`);
    }
    const [built, source] = await Promise.all([run(cli, ['version']), run(SOURCE_CLI, ['version'])]);
    assert.equal(built.stdout, source.stdout);
  });

  test('offline mutate prints exactly what the sources print', async () => {
    const pod = path.join(dir, 'pod.yaml');
    const sa = path.join(dir, 'sa.yaml');
    await writeFile(pod, 'apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: team}\nspec:\n  serviceAccountName: app\n  containers: [{name: app, image: nginx}]\n');
    await writeFile(sa, `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, namespace: team, annotations: {eks.amazonaws.com/role-arn: "${ROLE}"}}\n`);
    const args = ['mutate', '--pod', pod, '--service-account', sa, '--output', 'pod'];
    const [built, source] = await Promise.all([run(cli, args), run(SOURCE_CLI, args)]);
    assert.match(built.stdout, /AWS_WEB_IDENTITY_TOKEN_FILE/);
    assert.equal(built.stdout, source.stdout);
  });

  test('the built webhook (two threads) mutates pods of a ServiceAccount it watches in the API server', async () => {
    const kube = new KubeHelpers(cp.kubeConfig);
    const ns = await kube.createNamespace('built');
    await kube.createServiceAccount(ns, 'app', { 'eks.amazonaws.com/role-arn': ROLE });
    const cert = await issueCertificate(cp.ca, cp.dir, { name: 'built', commonName: '127.0.0.1', ips: ['127.0.0.1'] });
    const child = spawn(cli, ['webhook', '--kubeconfig', cp.kubeconfigPath, '--port=0', '--metrics-port=0', '--bind-address=127.0.0.1', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile, '--workers=2'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let logs = '';
    child.stderr.on('data', (c: Buffer) => (logs += c.toString()));
    try {
      const port = await eventually(() => {
        const m = /"port":(\d+),"metricsPort":\d+,"msg":"webhook main thread started"/.exec(logs);
        return m ? Number(m[1]) : undefined;
      }, 'the built webhook to listen', 30_000, 50);
      const review = JSON.stringify({
        apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
        request: { uid: 'u1', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, operation: 'CREATE', namespace: ns, object: { metadata: { name: 'p', namespace: ns }, spec: { serviceAccountName: 'app', containers: [{ name: 'app', image: 'app:1' }] } } },
      });
      const patch = await eventually(async () => {
        const res = await httpsRequest(`https://127.0.0.1:${port}/mutate`, { ca: cp.ca.certPem, method: 'POST', headers: { 'content-type': 'application/json' }, body: review, timeoutMs: 2_000 });
        const p = (JSON.parse(res.body) as { response?: { patch?: string } }).response?.patch;
        return p ? Buffer.from(p, 'base64').toString() : undefined;
      }, 'a patch from the built webhook', 30_000, 100);
      assert.match(patch, new RegExp(ROLE.replace(/[/]/g, '\\/')));
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
