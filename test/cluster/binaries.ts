// Locates (building on first use) the Go-built control-plane binaries. The build itself is the bash
// script beside this file, so people, CI and tests share one path and one lock.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'build-binaries.sh');

// reference-fixtures is a folder, not a binary: the reference webhook's golden pod fixtures
export type TestBinary = 'kube-apiserver' | 'etcd' | 'kubectl' | 'helm' | 'reference-webhook' | 'reference-fixtures' | 'vegeta' | 'promtool' | 'prometheus'
  // the real node's monitoring (test/node/monitoring.ts): the operator, its config reloader and its CRDs;
  // the CRDs alone (a folder) for the chart test
  | 'prometheus-operator' | 'prometheus-operator-crds'
  // the real node (test/node/)
  | 'kubelet' | 'kube-controller-manager' | 'kube-scheduler' | 'containerd' | 'runc' | 'cni-plugins' | 'buildkit' | 'pause';

const resolved = new Map<string, Promise<string>>();

/**
 * Returns the folder holding the requested binaries. Progress of a first build goes to stderr;
 * a failed build rejects with the script's explanation.
 */
export function ensureBinaries(names: readonly TestBinary[] = ['kube-apiserver', 'etcd']): Promise<string> {
  const key = [...names].sort().join(',');
  let dir = resolved.get(key);
  if (dir === undefined) {
    dir = runBuild(names);
    resolved.set(key, dir);
  }
  return dir;
}

function runBuild(names: readonly TestBinary[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, ...names], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.once('error', reject);
    child.once('exit', (code) => {
      const lines = stdout.trim().split('\n');
      const dir = lines[lines.length - 1];
      if (code === 0 && dir) resolve(dir);
      else reject(new Error(`building the test binaries (${names.join(', ')}) failed with exit code ${code}; see the lines above`));
    });
  });
}
