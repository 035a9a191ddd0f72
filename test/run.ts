// `npm test`: type check, lint, build (or find) the control-plane binaries once, then every test
// file with node's test runner. Each step says what it does and how long it took; the first
// failing step stops the run with its exit code.
import { spawn } from 'node:child_process';
import { globSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBinaries, type TestBinary } from './cluster/binaries.ts';
import { realNodeUnavailable } from './node/cluster.ts';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const bin = (name: string): string => path.join(root, 'node_modules', '.bin', name);
const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith('--'));
const skipStatic = args.includes('--no-static');
const REAL_NODE_BINARIES: TestBinary[] = ['kubelet', 'kube-controller-manager', 'kube-scheduler', 'containerd', 'runc', 'cni-plugins', 'buildkit', 'pause',
  // the live Prometheus of test/e2e/real-node-monitoring.test.ts
  'prometheus', 'prometheus-operator'];

function step(title: string, cmd: string, cmdArgs: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const started = Date.now();
  console.log(`\n▶ ${title}`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, cmdArgs, { cwd: root, stdio: 'inherit', env });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      if (code === 0) {
        console.log(`✔ ${title} (${secs} s)`);
        resolve();
      } else {
        reject(new Error(`${title} failed (${signal ?? `exit ${code}`}, ${secs} s)`));
      }
    });
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  if (!skipStatic) {
    await step('type check (tsc)', process.execPath, [bin('tsc'), '-p', 'tsconfig.json']);
    await step('lint (eslint)', process.execPath, [bin('eslint'), '--max-warnings=0', '.']);
  }
  const binStarted = Date.now();
  // the real node's binaries only where its tests run (root on Linux); elsewhere they skip
  const binaries: TestBinary[] = ['kube-apiserver', 'etcd', 'kubectl', 'helm', 'promtool', 'prometheus-operator-crds',
    ...(realNodeUnavailable() === undefined ? REAL_NODE_BINARIES : [])];
  console.log(`\n▶ test binaries (${binaries.join(', ')})`);
  const binDir = await ensureBinaries(binaries);
  console.log(`✔ test binaries in ${binDir} (${((Date.now() - binStarted) / 1000).toFixed(1)} s)`);

  const files = (only.length > 0 ? only : ['test/unit/**/*.test.ts', 'test/conformance/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'])
    .flatMap((pattern) => globSync(pattern, { cwd: root }))
    .sort();
  if (files.length === 0) throw new Error(`no test files match ${only.join(' ')}`);
  // Integration files each start their own control plane; two at a time keeps both cores busy.
  await step(`tests (${files.length} files)`, process.execPath, [
    '--test', '--test-concurrency=2', '--test-timeout=600000', '--test-reporter=spec', ...files,
  ], { ...process.env, KUBEBUILDER_ASSETS: binDir });
  console.log(`\nAll steps passed in ${((Date.now() - started) / 1000).toFixed(0)} s.`);
}

main().catch((err: unknown) => {
  console.error(`\n✘ ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
