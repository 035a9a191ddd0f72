// `npm run cluster:up` / `cluster:down`: the test control plane for people. `up` builds the
// binaries (with progress), starts a background process that holds the control plane, and prints
// the KUBECONFIG path and the issuer URL; `down` stops it. `serve` is that background process.
import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBinaries } from './binaries.ts';
import { startControlPlane } from './control-plane.ts';

const STATE_DIR = path.join(process.env.KUBE_IRSA_CACHE ?? path.join(os.homedir(), '.cache', 'kube-irsa'), 'local-cluster');
const STATE_FILE = path.join(STATE_DIR, 'state.json');
const LOG_FILE = path.join(STATE_DIR, 'serve.log');

interface State {
  pid: number;
  kubeconfig: string;
  server: string;
  issuer: string;
  caFile: string;
}

function readState(): State | undefined {
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function printState(s: State): void {
  console.log(`Control plane running (pid ${s.pid}).`);
  console.log(`  export KUBECONFIG=${s.kubeconfig}`);
  console.log(`  API server / service-account issuer: ${s.issuer}`);
  console.log(`  CA certificate: ${s.caFile}`);
  console.log('Stop it with: npm run cluster:down');
}

async function up(): Promise<number> {
  const existing = readState();
  if (existing && alive(existing.pid)) {
    printState(existing);
    return 0;
  }
  const binDir = await ensureBinaries(['kube-apiserver', 'etcd']);
  await mkdir(STATE_DIR, { recursive: true });
  await rm(STATE_FILE, { force: true });
  const log = openSync(LOG_FILE, 'w');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve', binDir], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  child.unref();
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const s = readState();
    if (s) {
      printState(s);
      return 0;
    }
    if (!alive(child.pid ?? -1)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  console.error(`The control plane did not start; see ${LOG_FILE}:`);
  console.error(existsSync(LOG_FILE) ? readFileSync(LOG_FILE, 'utf8') : '(no log)');
  return 1;
}

async function serve(binDir: string | undefined): Promise<number> {
  const cp = await startControlPlane(binDir ? { binDir } : {});
  await mkdir(STATE_DIR, { recursive: true });
  const state: State = { pid: process.pid, kubeconfig: cp.kubeconfigPath, server: cp.server, issuer: cp.issuer, caFile: cp.ca.certFile };
  await writeFile(STATE_FILE, JSON.stringify(state, null, 2));
  console.log(`ready: ${JSON.stringify(state)}`);
  // control-plane.ts stops the processes and removes the folder on SIGINT/SIGTERM
  await new Promise(() => undefined);
  return 0;
}

async function down(): Promise<number> {
  const s = readState();
  if (!s || !alive(s.pid)) {
    console.log('No control plane is running.');
    await rm(STATE_FILE, { force: true });
    return 0;
  }
  process.kill(s.pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (alive(s.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  if (alive(s.pid)) {
    console.error(`pid ${s.pid} did not stop within 30 s; killing it`);
    process.kill(s.pid, 'SIGKILL');
  }
  await rm(STATE_FILE, { force: true });
  console.log('Control plane stopped.');
  return 0;
}

const [cmd, arg] = process.argv.slice(2);
const handlers: Record<string, () => Promise<number>> = { up, down, serve: () => serve(arg) };
const handler = cmd === undefined ? undefined : handlers[cmd];
if (!handler) {
  console.error(`usage: cli.ts up|down (got ${cmd ?? 'nothing'})`);
  process.exit(1);
}
handler().then((code) => process.exit(code), (err: Error) => {
  console.error(err.message);
  process.exit(1);
});
