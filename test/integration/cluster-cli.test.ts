// `npm run cluster:up` / `cluster:down` for people, and clean-up when the process holding a control
// plane is interrupted.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { ensureBinaries } from '../cluster/binaries.ts';
import { eventually } from '../cluster/kube-helpers.ts';
import { processesMentioning } from '../cluster/process.ts';

const CLI = path.join(import.meta.dirname, '..', 'cluster', 'cli.ts');

/** Starts `cli.ts serve` and waits for its ready line; fails at once if it exits first. */
async function serve(cache: string) {
  const child = spawn(process.execPath, [CLI, 'serve', await ensureBinaries()], {
    env: { ...process.env, KUBE_IRSA_CACHE: cache }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const ready = await eventually(() => {
    if (gone) throw new Error(`serve exited early: ${err}`);
    return /ready: (.*)/.exec(out)?.[1];
  }, 'the control plane to be ready', 90_000, 200);
  const dir = path.dirname((JSON.parse(ready) as { kubeconfig: string }).kubeconfig);
  return { child, exited, dir };
}

describe('cluster CLI', () => {
  test('up prints KUBECONFIG and the issuer, the cluster answers, down removes everything', async () => {
    const cache = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-cli-'));
    const env = { ...process.env, KUBE_IRSA_CACHE: cache, KUBEBUILDER_ASSETS: await ensureBinaries() };
    try {
      const up = spawnSync(process.execPath, [CLI, 'up'], { env, encoding: 'utf8', timeout: 120_000 });
      assert.equal(up.status, 0, up.stderr);
      const kubeconfig = /export KUBECONFIG=(\S+)/.exec(up.stdout)?.[1];
      const issuer = /service-account issuer: (https:\/\/127\.0\.0\.1:\d+)/.exec(up.stdout)?.[1];
      assert.ok(kubeconfig && issuer, up.stdout);

      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfig);
      const namespaces = await kc.makeApiClient(CoreV1Api).listNamespace();
      assert.ok(namespaces.items.some((n) => n.metadata?.name === 'kube-system'));

      const again = spawnSync(process.execPath, [CLI, 'up'], { env, encoding: 'utf8', timeout: 30_000 });
      assert.match(again.stdout, new RegExp(`KUBECONFIG=${kubeconfig}`), 'a second up reports the running cluster');

      const dir = path.dirname(kubeconfig);
      const down = spawnSync(process.execPath, [CLI, 'down'], { env, encoding: 'utf8', timeout: 60_000 });
      assert.equal(down.status, 0, down.stderr);
      assert.match(down.stdout, /Control plane stopped/);
      assert.deepEqual(await processesMentioning(dir), []);
      assert.equal(existsSync(dir), false);
    } finally {
      spawnSync(process.execPath, [CLI, 'down'], { env: { ...process.env, KUBE_IRSA_CACHE: cache } });
      await rm(cache, { recursive: true, force: true });
    }
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`a process holding a control plane cleans up on ${signal}`, async () => {
      const cache = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-cli-'));
      try {
        const { child, exited, dir } = await serve(cache);
        assert.ok((await processesMentioning(dir)).length >= 2);
        child.kill(signal);
        assert.equal(await exited, signal === 'SIGINT' ? 130 : 143);
        assert.deepEqual(await processesMentioning(dir), [], 'etcd and kube-apiserver are gone');
        assert.equal(existsSync(dir), false, 'the folder is removed');
      } finally {
        await rm(cache, { recursive: true, force: true });
      }
    });
  }

  test('a control plane whose owner was killed with SIGKILL is stopped by its guard', async () => {
    const cache = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-cli-'));
    try {
      const { child, dir } = await serve(cache);
      child.kill('SIGKILL');
      await eventually(async () => ((await processesMentioning(dir)).length === 0 ? true : undefined), 'the guard to stop etcd and kube-apiserver', 20_000, 250);
      await rm(dir, { recursive: true, force: true }); // the next start would sweep it; do it now
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });
});
