// `kube-irsa webhook` as a process: start-up errors, notices for reference flags it handles
// differently, readiness, and SIGTERM draining an admission that is still being received.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import autocannon from 'autocannon';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { httpsRequest } from '../cluster/https.ts';
import { eventually } from '../cluster/kube-helpers.ts';
import { issueCertificate, type IssuedCertificate } from '../cluster/pki.ts';
import { KEPT_NAME_PROBLEMS, lintMetrics } from '../support/promtool.ts';

const CLI = path.join(import.meta.dirname, '..', '..', 'bin', 'kube-irsa');

describe('kube-irsa webhook process', () => {
  let cp: ControlPlane;
  let cert: IssuedCertificate;
  before(async () => {
    cp = await startControlPlane();
    cert = await issueCertificate(cp.ca, cp.dir, { name: 'proc', commonName: '127.0.0.1', ips: ['127.0.0.1'] });
  });
  after(async () => {
    await cp?.stop();
  });

  function start(extra: string[] = []): { child: ChildProcess; logs: () => string; listening: Promise<{ port: number; metricsPort: number }> } {
    const child = spawn(CLI, ['webhook', '--kubeconfig', cp.kubeconfigPath, '--port=0', '--metrics-port=0', '--bind-address=127.0.0.1',
      '--tls-cert', cert.certFile, '--tls-key', cert.keyFile, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    child.stderr.on('data', (c: Buffer) => (logs += c.toString()));
    const listening = eventually(() => {
      const line = logs.split('\n').find((l) => l.includes('"webhook listening"'));
      return line ? (JSON.parse(line) as { port: number; metricsPort: number }) : undefined;
    }, 'the webhook to listen', 20_000);
    return { child, logs: () => logs, listening };
  }
  const exited = (child: ChildProcess) => new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));

  test('invalid flag values are refused at start with every problem and exit 1', () => {
    const r = spawnSync(CLI, ['webhook', '--kubeconfig', cp.kubeconfigPath, '--tls-min-version=1.9', '--tls-cipher-suites=TLS_FAKE', '--token-mount-path=relative', '--compose-role-arn'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unsupported version 1\.9/);
    assert.match(r.stderr, /unsupported cipher suite: TLS_FAKE/);
    assert.match(r.stderr, /--token-mount-path "relative" must be an absolute path/);
    assert.match(r.stderr, /--compose-role-arn needs --aws-account-id/);
  });

  test('a missing certificate is a clear start-up error', () => {
    const r = spawnSync(CLI, ['webhook', '--kubeconfig', cp.kubeconfigPath, '--tls-cert=/nonexistent/tls.crt', '--tls-key=/nonexistent/tls.key', '--port=0'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot read the serving certificate or key: .*\/nonexistent\/tls\.crt/);
  });

  test('reference flags it handles differently are said once at start; readiness follows the cache', async () => {
    const w = start(['--in-cluster=true', '--logtostderr', '--v=4']);
    try {
      const { port } = await w.listening;
      assert.match(w.logs(), /--in-cluster=true: the reference's CSR certificate flow/);
      assert.match(w.logs(), /klog flags are accepted and ignored \(--logtostderr, --v\)/);
      await eventually(async () => ((await httpsRequest(`https://127.0.0.1:${port}/readyz`, { ca: cp.ca.certPem })).status === 200 ? true : undefined), 'readiness');
      assert.equal((await httpsRequest(`https://127.0.0.1:${port}/healthz`, { ca: cp.ca.certPem })).body, 'ok');
    } finally {
      w.child.kill('SIGTERM');
      await exited(w.child);
    }
  });

  test('--workers=2: the main thread and a worker thread serve admissions on one port, /metrics sums them, SIGTERM stops all', async () => {
    const w = start(['--workers=2']);
    const { metricsPort, port } = await eventually(() => {
      const m = /"port":(\d+),"metricsPort":(\d+),"msg":"webhook main thread started"/.exec(w.logs());
      return m ? { port: Number(m[1]), metricsPort: Number(m[2]) } : undefined;
    }, 'the main thread', 30_000);
    const listening = [...w.logs().matchAll(/"pid":(\d+),"thread":(\d+),"port":(\d+).*?"msg":"webhook listening"/g)];
    assert.equal(listening.length, 2);
    assert.equal(new Set(listening.map((m) => m[1])).size, 1, 'one process');
    assert.equal(new Set(listening.map((m) => m[2])).size, 2, 'two threads');
    assert.deepEqual(listening.map((m) => Number(m[3])), [port, port], 'one port');
    await eventually(async () => ((await httpsRequest(`https://127.0.0.1:${port}/readyz`, { ca: cp.ca.certPem })).status === 200 ? true : undefined), 'readiness');
    const review = (i: number) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: `u${i}`, kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'default', operation: 'UPDATE', object: {} } });
    for (let i = 0; i < 40; i++) {
      // a new connection each time, so the kernel spreads them over both threads
      const res = await httpsRequest(`https://127.0.0.1:${port}/mutate`, { ca: cp.ca.certPem, method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: review(i) });
      assert.equal(res.status, 200);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /kube_irsa_webhook_admissions_total\{outcome="not-a-pod-create"\} 40\b/, 'both threads\' counts, summed');
    assert.equal([...metrics.matchAll(/^process_resident_memory_bytes /gm)].length, 1, 'process metrics once');
    assert.match(metrics, /^kube_irsa_build_info\{component="webhook"/m);
    const { nodejsDefaults, referenceWebhook } = KEPT_NAME_PROBLEMS;
    assert.deepEqual((await lintMetrics(metrics)).sort(), [...nodejsDefaults, ...referenceWebhook].sort(), 'promtool check metrics finds only the kept names');
    w.child.kill('SIGTERM');
    assert.equal(await exited(w.child), 0);
    await w.listening; // settled long ago
  });

  test('--workers=2 --worker-idle-timeout: one thread at rest; under load a second starts and keep-alive clients move to it; back to one when idle', async () => {
    const w = start(['--workers=2', '--worker-idle-timeout=2s']);
    try {
      const { metricsPort, port } = await eventually(() => {
        const m = /"port":(\d+),"metricsPort":(\d+),"msg":"webhook main thread started"/.exec(w.logs());
        return m ? { port: Number(m[1]), metricsPort: Number(m[2]) } : undefined;
      }, 'the main thread', 30_000);
      await eventually(async () => ((await httpsRequest(`https://127.0.0.1:${port}/readyz`, { ca: cp.ca.certPem })).status === 200 ? true : undefined), 'readiness');
      const metric = async (pattern: RegExp) => Number(pattern.exec(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text())?.[1] ?? NaN);
      const threads = () => metric(/^kube_irsa_webhook_threads (\d+)$/m);
      assert.equal(await threads(), 1, 'one thread at rest');
      assert.equal([...w.logs().matchAll(/"msg":"webhook listening"/g)].length, 1);

      const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'load', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'default', operation: 'UPDATE', object: {} } });
      // keep-alive clients that connect before the second thread exists, as an API server's do
      const load = autocannon({ url: `https://127.0.0.1:${port}/mutate`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 32, duration: 8 });
      try {
        await eventually(() => (/admissions busy: webhook thread started/.test(w.logs()) ? true : undefined), 'a second thread under load', 6_000);
        assert.equal(await threads(), 2);
        await eventually(() => (/closing some keep-alive connections after their answer/.test(w.logs()) ? true : undefined), 'clients moved off the main thread', 3_000);
        await eventually(async () => ((await metric(/^kube_irsa_webhook_thread_utilization\{thread="1"\} (\S+)$/m)) > 0.3 ? true : undefined),
          'the second thread busy with clients moved to it', 6_000);
      } finally {
        const result = await load;
        assert.equal(result.errors + result.non2xx, 0, 'every admission answered while connections moved');
        assert.ok(result.requests.total > 1000, `${result.requests.total} admissions`);
      }
      await eventually(() => (/admissions idle: webhook thread stopped/.test(w.logs()) ? true : undefined), 'the second thread stopped 2 s after the load', 10_000);
      assert.equal(await threads(), 1);
      assert.doesNotMatch(w.logs(), /thread died/);
    } finally {
      w.child.kill('SIGTERM');
      assert.equal(await exited(w.child), 0);
    }
  });

  test('SIGTERM lets an admission still being received finish, then exits 0', async () => {
    const w = start();
    const { port } = await w.listening;
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
      request: { uid: 'drain-1', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'default', operation: 'CREATE', object: { metadata: { name: 'p' }, spec: { containers: [] } } },
    });
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca: cp.ca.certPem, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 40));
      // the rest arrives after SIGTERM
      setTimeout(() => {
        w.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(40)), 300);
      }, 300);
    });
    const res = await response;
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body) as { response: { uid: string; allowed: boolean } }).response.uid, 'drain-1');
    assert.equal(await exited(w.child), 0);
    assert.match(w.logs(), /webhook shutting down: draining in-flight work/);
    assert.match(w.logs(), /"webhook stopped"/);
  });
});
