// A real single-node cluster, as kind would give, built from source on this machine: the control
// plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler), one node (containerd,
// runc, CNI bridge, kubelet) and the STS emulator, all inside a private network namespace made for
// the run; the project's image built from its real Dockerfile with BuildKit. Root only (namespaces,
// mounts, cgroups). One run at a time on a machine (a lock), and a run that died is cleaned up by
// the next one: its sysctls restored, its cgroups and folder removed.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureBinaries, type TestBinary } from '../cluster/binaries.ts';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { isAlive, ownerOf, processesMentioning, startProcess, writeOwnerFile, type ManagedProcess } from '../cluster/process.ts';
import { eventually } from '../cluster/kube-helpers.ts';
import { stopOnSignal } from '../cluster/stop-on-signal.ts';
import { baseImage, cgroupTreeExists, pauseImageArchive, removeCgroupTree, startBuildKit, BUILDKIT_CGROUP } from './images.ts';
import { processesInNamespaces, readSysctls, restoreSysctls } from './machine-state.ts';
import { NODE_IP, startPrivateNetwork, type PrivateNetwork } from './network.ts';
import { PAUSE_IMAGE_REF, startRealNode, type RealNode } from './node.ts';
import { RemoteEmulator } from './remote-emulator.ts';

const run = promisify(execFile);
const ROOT = path.join(import.meta.dirname, '..', '..');
const DEFAULT_PARENT = '/var/tmp';
const RUN_PREFIX = 'kube-irsa-node-';
const LOCK_NAME = 'kube-irsa-real-node.lock';
const SYSCTLS_FILE = 'sysctls.json';
/** The kubelet's pod cgroups (cgroupfs driver, cgroup v1): one tree per controller. */
const KUBEPODS_CGROUP = 'kubepods';

export const IMAGES = {
  kubeIrsa: 'localhost/kube-irsa/kube-irsa:e2e',
  app: 'localhost/kube-irsa/e2e-app:e2e',
} as const;
export const STS_PORT = 4566;
export const NODE_NAME = 'node-1';

/** Why the real-node tests cannot run here, or undefined when they can. */
export function realNodeUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the real-node tests need Linux';
  if (process.getuid?.() !== 0) return 'the real-node tests need root (namespaces, mounts, cgroups, a kubelet); run `npm test` as root to include them';
  return undefined;
}

export interface RealCluster {
  readonly dir: string;
  readonly binDir: string;
  readonly network: PrivateNetwork;
  readonly controlPlane: ControlPlane;
  readonly node: RealNode;
  readonly emulator: RemoteEmulator;
  /** The STS endpoint as pods reach it. */
  readonly stsEndpoint: string;
  /** The namespaces of the run (`/proc/<pid>/ns/*` link targets), to prove nothing is left in them. */
  readonly namespaces: readonly string[];
  helm(args: readonly string[]): Promise<string>;
  kubectl(args: readonly string[]): Promise<string>;
  stop(): Promise<void>;
}

export interface RealClusterOptions {
  readonly parentDir?: string;
  /** Runs once this run holds the machine (lock taken, dead runs swept), before it changes anything. */
  readonly onLocked?: () => Promise<void>;
  /** More test binaries, and the images made from them (archives imported into the node's containerd). */
  readonly extraImages?: {
    readonly binaries: readonly TestBinary[];
    make(binDir: string, imagesDir: string): Promise<readonly string[]>;
  };
}

export async function startRealCluster(opts: RealClusterOptions = {}): Promise<RealCluster> {
  const why = realNodeUnavailable();
  if (why) throw new Error(why);
  const parent = opts.parentDir ?? DEFAULT_PARENT;
  const release = await acquireLock(parent);
  await sweepAbandonedRuns(parent);
  await opts.onLocked?.();
  const dir = await mkdtemp(path.join(parent, RUN_PREFIX));
  await writeOwnerFile(dir);

  const binDir = await ensureBinaries(['kube-apiserver', 'etcd', 'kubectl', 'helm', 'kubelet', 'kube-controller-manager',
    'kube-scheduler', 'containerd', 'runc', 'cni-plugins', 'buildkit', 'pause', ...(opts.extraImages?.binaries ?? [])]);

  const cleanups: (() => Promise<void>)[] = [];
  let namespaces: string[] = [];
  let stopping: Promise<void> | undefined;
  const unregister = stopOnSignal({ stop: () => stop() });
  const stop = (): Promise<void> => (stopping ??= (async () => {
    unregister();
    for (const c of cleanups.splice(0).reverse()) await c().catch((err: unknown) => process.stderr.write(`[real-node] clean-up: ${(err as Error).message}\n`));
    // the kernel ends the namespace's processes asynchronously; their cgroups go once they have
    await settle(async () => (await processesInNamespaces(namespaces)).length === 0);
    await removeCgroupTreeWhenEmpty(KUBEPODS_CGROUP);
    await restoreSavedSysctls(dir);
    await rm(dir, { recursive: true, force: true });
    await release();
  })());

  try {
    // images first: BuildKit's RUN steps use the machine's network (npm registry)
    const imagesDir = path.join(dir, 'images');
    await mkdir(imagesDir);
    const base = await baseImage();
    const buildkit = await startBuildKit(binDir, imagesDir);
    let kubeIrsaImage: string;
    let appImage: string;
    try {
      kubeIrsaImage = await buildkit.build({ context: ROOT, name: IMAGES.kubeIrsa, out: path.join(imagesDir, 'kube-irsa.tar'), base });
      appImage = await buildkit.build({ context: path.join(ROOT, 'test', 'node', 'app'), name: IMAGES.app, out: path.join(imagesDir, 'app.tar'), base });
    } finally {
      await buildkit.stop();
    }
    const pauseImage = await pauseImageArchive(binDir, PAUSE_IMAGE_REF, imagesDir);
    const extraImages = await opts.extraImages?.make(binDir, imagesDir) ?? [];

    const network = await startPrivateNetwork(dir);
    cleanups.push(() => network.stop());
    namespaces = await Promise.all(['net', 'pid', 'mnt'].map((ns) => readlink(`/proc/${network.pid}/ns/${ns}`)));

    const controlPlane = await startControlPlane({
      network, parentDir: dir, binDir,
      users: [{ name: `system:node:${NODE_NAME}`, groups: ['system:nodes'] }],
    });
    cleanups.push(() => controlPlane.stop());

    const emulatorConfig = path.join(dir, 'sts-emulator.json');
    await writeFile(emulatorConfig, JSON.stringify({ region: 'us-east-1', accounts: [] }));
    const emulatorProcess: ManagedProcess = startProcess('sts-emulator', ...network.inNetwork(process.execPath, [
      path.join(ROOT, 'test', 'sts-emulator', 'main.ts'), '--config', emulatorConfig, '--host', '0.0.0.0',
      '--port', String(STS_PORT), '--ca-file', controlPlane.ca.certFile, '--admin',
    ]), { logFile: path.join(dir, 'sts-emulator.log') });
    cleanups.push(() => emulatorProcess.stop());
    const emulator = new RemoteEmulator(`http://127.0.0.1:${(await network.hostBridge(NODE_IP, STS_PORT)).port}`);
    await emulator.waitReady(emulatorProcess);

    const nodeDir = path.join(dir, 'node');
    await mkdir(nodeDir);
    const node = await startRealNode({ name: NODE_NAME, dir: nodeDir, binDir, network, controlPlane });
    cleanups.push(() => node.stop());
    for (const archive of [pauseImage, kubeIrsaImage, appImage, ...extraImages]) await node.importImage(archive);
    // the kubelet changes these at start and never puts them back
    await writeFile(path.join(dir, SYSCTLS_FILE), JSON.stringify(await readSysctls()));
    await node.startKubelet();

    const env = { ...process.env, KUBECONFIG: controlPlane.kubeconfigPath, HELM_CACHE_HOME: path.join(dir, 'helm', 'cache'),
      HELM_CONFIG_HOME: path.join(dir, 'helm', 'config'), HELM_DATA_HOME: path.join(dir, 'helm', 'data') };
    const tool = (name: string) => async (args: readonly string[]): Promise<string> => {
      try {
        return (await run(path.join(binDir, name), [...args], { env, maxBuffer: 64 * 1024 * 1024 })).stdout;
      } catch (err) {
        const e = err as { stderr?: string; stdout?: string; message: string };
        throw new Error(`${name} ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}`, { cause: err });
      }
    };
    return {
      dir, binDir, network, controlPlane, node, emulator, namespaces,
      stsEndpoint: `http://${NODE_IP}:${STS_PORT}`,
      helm: tool('helm'),
      kubectl: tool('kubectl'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Restores what a dead run changed: sysctls, cgroups, its folder and its lock. Runs at every start. */
export async function sweepAbandonedRuns(parent = DEFAULT_PARENT): Promise<void> {
  const lock = path.join(parent, LOCK_NAME);
  const lockOwner = await ownerOf(lock);
  if (lockOwner > 0 && !isAlive(lockOwner)) await rm(lock, { recursive: true, force: true });
  for (const entry of (await readdir(parent).catch(() => [])).filter((e) => e.startsWith(RUN_PREFIX))) {
    const dir = path.join(parent, entry);
    const owner = await ownerOf(dir);
    if (owner > 0 && isAlive(owner)) continue;
    process.stderr.write(`[real-node] cleaning up after an abandoned run in ${dir}\n`);
    // its processes' guards end them within seconds of the owner's death
    await settle(async () => (await processesMentioning(dir)).length === 0);
    await restoreSavedSysctls(dir);
    await rm(dir, { recursive: true, force: true });
  }
  await removeCgroupTreeWhenEmpty(KUBEPODS_CGROUP);
  await removeCgroupTreeWhenEmpty(BUILDKIT_CGROUP);
}

/** One real-node run per machine: the kubelet's cgroups and sysctls are machine-wide. */
export async function acquireLock(parent: string = DEFAULT_PARENT): Promise<() => Promise<void>> {
  const lock = path.join(parent, LOCK_NAME);
  const deadline = Date.now() + 30 * 60_000;
  let said = false;
  for (;;) {
    try {
      await mkdir(lock);
      await writeOwnerFile(lock);
      return () => rm(lock, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await ownerOf(lock);
    // a lock just made may not have its owner written yet
    const fresh = await stat(lock).then((s) => Date.now() - s.mtimeMs < 5_000, () => false);
    if (!(owner > 0 && isAlive(owner)) && !(owner === 0 && fresh)) {
      await rm(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another real-node run (pid ${owner}) has held ${lock} for 30 minutes`);
    if (!said) process.stderr.write(`[real-node] waiting for the real-node run of pid ${owner} to finish\n`);
    said = true;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** Removes a cgroup tree, retrying while the last processes in it are still being reaped. */
async function removeCgroupTreeWhenEmpty(name: string): Promise<void> {
  await settle(async () => {
    await removeCgroupTree(name);
    return !(await cgroupTreeExists(name));
  });
}

/** Waits up to 20 s for the kernel to finish ending things; clean-up goes on either way. */
function settle(done: () => Promise<boolean>): Promise<unknown> {
  return eventually(async () => ((await done()) ? true : undefined), 'clean-up to settle', 20_000, 200).catch(() => undefined);
}

async function restoreSavedSysctls(dir: string): Promise<void> {
  const saved = await readFile(path.join(dir, SYSCTLS_FILE), 'utf8').catch(() => undefined);
  if (saved) await restoreSysctls(JSON.parse(saved) as Record<string, string>);
}


