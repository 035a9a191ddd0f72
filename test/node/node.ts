// A real node: containerd (runc with seccomp, CNI bridge) and the kubelet, inside the private
// namespaces of network.ts, registered with the control plane as a Node. Everything they write
// under fixed paths goes to the namespace's private tmpfs mounts; everything else lives in the
// node's folder, removed at stop. Facts this depends on (measured on these machines, cgroup v1
// without CAP_SYS_RESOURCE) are in the README's "Real-node tests" section.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import type { ControlPlane } from '../cluster/control-plane.ts';
import { startProcess, type ManagedProcess } from '../cluster/process.ts';
import { NODE_IP, POD_CIDR, type PrivateNetwork } from './network.ts';

const run = promisify(execFile);

export const PAUSE_IMAGE_REF = 'localhost/kube-irsa/pause:e2e';

export interface RealNodeOptions {
  readonly name: string;
  /** The node's folder (created by the caller, removed by the caller after stop). */
  readonly dir: string;
  readonly binDir: string;
  readonly network: PrivateNetwork;
  /** Must have declared the user `system:node:<name>` in the group `system:nodes`. */
  readonly controlPlane: ControlPlane;
}

export interface RealNode {
  readonly name: string;
  readonly containerdSocket: string;
  readonly kubeletRootDir: string;
  readonly kubeletLog: string;
  readonly containerdLog: string;
  /** Imports an OCI image archive into the CRI's image store (namespace k8s.io). */
  importImage(archive: string): Promise<void>;
  /** Starts the kubelet (after the images it needs are imported) and waits for the Node to be Ready. */
  startKubelet(): Promise<void>;
  /** Stops the kubelet and containerd (the namespace's end takes the containers with it). */
  stop(): Promise<void>;
}

export async function startRealNode(opts: RealNodeOptions): Promise<RealNode> {
  const { dir, binDir, network, controlPlane: cp } = opts;
  const containerdSocket = path.join(dir, 'containerd.sock');
  const kubeletRootDir = path.join(dir, 'kubelet');
  const cniConf = path.join(dir, 'cni', 'conf');
  await Promise.all([cniConf, path.join(dir, 'cni', 'ipam'), kubeletRootDir, path.join(dir, 'pod-logs')].map((d) => mkdir(d, { recursive: true })));

  await writeFile(path.join(cniConf, '10-kube-irsa.conflist'), JSON.stringify({
    cniVersion: '1.0.0',
    name: 'kube-irsa-e2e',
    plugins: [{
      // no masquerade and no port maps: nothing leaves the namespace, so no iptables rule is needed
      type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: false, hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: POD_CIDR }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: path.join(dir, 'cni', 'ipam') },
    }],
  }, null, 2));

  const containerdConfig = path.join(dir, 'containerd.toml');
  await writeFile(containerdConfig, [
    'version = 3',
    `root = ${toml(path.join(dir, 'containerd', 'root'))}`,
    `state = ${toml(path.join(dir, 'containerd', 'state'))}`,
    '[grpc]',
    `  address = ${toml(containerdSocket)}`,
    '[ttrpc]',
    `  address = ${toml(`${containerdSocket}.ttrpc`)}`,
    // the default /opt/containerd would be created on the machine's own file system
    "[plugins.'io.containerd.internal.v1.opt']",
    `  path = ${toml(path.join(dir, 'containerd', 'opt'))}`,
    "[plugins.'io.containerd.cri.v1.runtime']",
    // these machines lack CAP_SYS_RESOURCE: without this every sandbox fails to lower oom_score_adj
    '  restrict_oom_score_adj = true',
    "[plugins.'io.containerd.cri.v1.runtime'.containerd]",
    "  default_runtime_name = 'runc'",
    "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]",
    "  runtime_type = 'io.containerd.runc.v2'",
    "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]",
    `  BinaryName = ${toml(path.join(binDir, 'runc'))}`,
    '  SystemdCgroup = false',
    "[plugins.'io.containerd.cri.v1.runtime'.cni]",
    `  bin_dirs = [${toml(path.join(binDir, 'cni'))}]`,
    `  conf_dir = ${toml(cniConf)}`,
    "[plugins.'io.containerd.cri.v1.images']",
    "[plugins.'io.containerd.cri.v1.images'.pinned_images]",
    // no registry can be reached: the sandbox image is built locally and never pulled
    `  sandbox = ${toml(PAUSE_IMAGE_REF)}`,
    '',
  ].join('\n'));

  const procs: ManagedProcess[] = [];
  const containerdLog = path.join(dir, 'containerd.log');
  const kubeletLog = path.join(dir, 'kubelet.log');
  const stop = async (): Promise<void> => {
    for (const p of [...procs].reverse()) await p.stop(5_000);
  };
  // containerd finds the runc shim on PATH
  const env = { ...process.env, PATH: `${binDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
  procs.push(startProcess('containerd', ...network.inNode(path.join(binDir, 'containerd'), ['--config', containerdConfig, '--log-level', 'warn']), { logFile: containerdLog, env }));
  const ctr = (args: readonly string[]) => run(path.join(binDir, 'ctr'), ['--address', containerdSocket, '--namespace', 'k8s.io', ...args], { maxBuffer: 16 * 1024 * 1024 });
  await waitFor('containerd', 30_000, procs, async () => {
    await ctr(['version']);
    return true;
  });

  const kubeconfig = path.join(dir, 'kubelet.kubeconfig');
  await cp.writeInternalKubeconfig(kubeconfig, `system:node:${opts.name}`);
  const kubeletConfig = path.join(dir, 'kubelet.yaml');
  await writeFile(kubeletConfig, JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // these machines run cgroup v1, which the kubelet refuses by default since 1.35
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    containerRuntimeEndpoint: `unix://${containerdSocket}`,
    address: NODE_IP,
    port: 10250,
    readOnlyPort: 0,
    healthzPort: 0,
    // the API server (exec, logs) authenticates with its kubelet client certificate
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: cp.ca.certFile } },
    authorization: { mode: 'AlwaysAllow' },
    failSwapOn: false,
    syncFrequency: '10s',
    fileCheckFrequency: '10s',
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    // a test machine's disk and memory are whatever they are: never evict
    evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    podLogsDir: path.join(dir, 'pod-logs'),
    protectKernelDefaults: false,
    serializeImagePulls: false,
    registerNode: true,
    maxPods: 110,
  }, null, 2));

  return {
    name: opts.name,
    containerdSocket,
    kubeletRootDir,
    kubeletLog,
    containerdLog,
    async importImage(archive) {
      await ctr(['images', 'import', '--no-unpack=false', archive]);
    },
    async startKubelet() {
      procs.push(startProcess('kubelet', ...network.inNode(path.join(binDir, 'kubelet'), [
        `--config=${kubeletConfig}`, `--kubeconfig=${kubeconfig}`, `--root-dir=${kubeletRootDir}`,
        `--hostname-override=${opts.name}`, `--node-ip=${NODE_IP}`, '--v=1',
      ]), { logFile: kubeletLog, env }));
      const core = cp.kubeConfig.makeApiClient(CoreV1Api);
      await waitFor('the Node to be Ready', 90_000, procs, async () => {
        const node = await core.readNode({ name: opts.name }).catch(() => undefined);
        return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      });
    },
    stop,
  };
}

function toml(s: string): string {
  return JSON.stringify(s);
}

async function waitFor(what: string, timeoutMs: number, procs: readonly ManagedProcess[], check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const dead = procs.find((p) => !p.isRunning());
    if (dead) throw new Error(`${dead.name} exited while waiting for ${what} (${String(await dead.exited)}); log: ${dead.logFile}`);
    try {
      if (await check()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${last})` : ''}`);
}
