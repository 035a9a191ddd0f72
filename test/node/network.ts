// The real-node cluster's private world: one network, mount and PID namespace made by the test.
// The node's address and the `kubernetes` Service's ClusterIP live on that namespace's loopback
// interface, pods hang off a bridge that exists only there, and no address, route or rule ever
// appears in the machine's own namespace. The test reaches servers inside through hostBridge():
// a listener on the machine's loopback whose connections the relay (relay.ts) carries in over a
// Unix socket.
//
// The namespace is held by a small shell (PID 1 of the new PID namespace) under
// `unshare --kill-child`: when the holder goes, the kernel ends every process of the namespace
// (containerd, shims, containers, the kubelet) and every mount made in it (tmpfs, overlays).
import { readlink, readFile, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { processesMentioning, startProcess, type ManagedProcess } from '../cluster/process.ts';

/** The node's own address, on the namespace's loopback interface (the kubelet refuses 127/8). */
export const NODE_IP = '10.99.0.1';
/** The `kubernetes` Service's ClusterIP (first of --service-cluster-ip-range): with no kube-proxy,
 *  it is simply another local address of the node, where the API server listens on 443. */
export const KUBERNETES_SERVICE_IP = '10.0.0.1';
export const SERVICE_CIDR = '10.0.0.0/24';
export const POD_CIDR = '10.88.0.0/16';

// Runs as PID 1 of the new namespaces. /run and /var/log get private tmpfs mounts, so what the
// kubelet and containerd put under their fixed paths (/var/log/containers, /run/netns, …) never
// reaches the machine's file system.
const HOLDER = `
set -eu
node=$1 relay=$2 sock=$3 node_ip=$4 service_ip=$5
ip link set lo up
ip addr add "$node_ip/32" dev lo
ip addr add "$service_ip/32" dev lo
mount -t tmpfs -o mode=0755 kube-irsa-run /run
mount -t tmpfs -o mode=0755 kube-irsa-log /var/log
"$node" "$relay" "$sock" &
relay=$!
# PID 1 also reaps the orphans of the namespace (containerd's shims end up here)
while kill -0 $relay 2>/dev/null; do wait $relay || true; done
`;

export interface HostBridge {
  /** Port on 127.0.0.1 of the machine. */
  readonly port: number;
  close(): Promise<void>;
}

export interface PrivateNetwork {
  /** A process inside (the holder): nsenter's --target. */
  readonly pid: number;
  /** Runs `command` in the namespace's network only (the control plane, the STS emulator). */
  inNetwork(command: string, args: readonly string[]): [string, string[]];
  /** Runs `command` in the namespace's network, mounts and PIDs (containerd, the kubelet). */
  inNode(command: string, args: readonly string[]): [string, string[]];
  /** A loopback port of the machine that leads to host:port inside the namespace. */
  hostBridge(host: string, port: number): Promise<HostBridge>;
  /** Ends every process and mount of the namespace. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startPrivateNetwork(dir: string): Promise<PrivateNetwork> {
  const socket = path.join(dir, 'relay.sock');
  const relay = path.join(import.meta.dirname, 'relay.ts');
  const holder: ManagedProcess = startProcess('namespace-holder', 'unshare', [
    '--net', '--mount', '--pid', '--mount-proc', '--propagation', 'private', '--kill-child=SIGKILL',
    'bash', '-c', HOLDER, 'kube-irsa-namespace-holder', process.execPath, relay, socket, NODE_IP, KUBERNETES_SERVICE_IP,
  ], { logFile: path.join(dir, 'namespace-holder.log') });

  const bridges = new Set<net.Server>();
  const sockets = new Set<net.Socket>();
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const s of sockets) s.destroy();
    await Promise.all([...bridges].map((b) => new Promise((r) => b.close(r))));
    await holder.stop(5_000);
  };

  try {
    const pid = await waitForHolder(socket, holder);
    const enter = (flags: readonly string[]) => (command: string, args: readonly string[]): [string, string[]] =>
      ['nsenter', [`--target=${pid}`, ...flags, '--', command, ...args]];
    return {
      pid,
      inNetwork: enter(['--net']),
      inNode: enter(['--net', '--mount', '--pid']),
      stop,
      async hostBridge(host, port) {
        const server = net.createServer((client) => {
          sockets.add(client);
          const upstream = net.connect(socket, () => {
            upstream.write(`${host} ${port}\n`);
            client.pipe(upstream);
            upstream.pipe(client);
          });
          sockets.add(upstream);
          const end = (): void => {
            client.destroy();
            upstream.destroy();
            sockets.delete(client);
            sockets.delete(upstream);
          };
          client.on('error', end).on('close', end);
          upstream.on('error', end).on('close', end);
        });
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve());
        });
        bridges.add(server);
        return {
          port: (server.address() as net.AddressInfo).port,
          close: () => new Promise<void>((r) => {
            bridges.delete(server);
            server.close(() => r());
          }),
        };
      },
    };
  } catch (err) {
    await stop();
    throw new Error(`the private network namespace did not start: ${(err as Error).message}\n${await readFile(holder.logFile, 'utf8').catch(() => '')}`, { cause: err });
  }
}

/**
 * Waits for the relay's socket, then finds the holder: the process of ours in other network and PID
 * namespaces (`unshare` itself is in the new network namespace but not in the new PID namespace).
 */
async function waitForHolder(socket: string, holder: ManagedProcess): Promise<number> {
  const own = async (pid: string, ns: string): Promise<string> => readlink(`/proc/${pid}/ns/${ns}`).catch(() => '');
  const [ownNet, ownPid] = [await own('self', 'net'), await own('self', 'pid')];
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (!holder.isRunning()) throw new Error(`the namespace holder exited (${String(await holder.exited)})`);
    const ready = await stat(socket).then(() => true, () => false);
    if (ready) {
      for (const pid of (await processesMentioning(socket)).sort((a, b) => a - b)) {
        const [net, pidns] = [await own(String(pid), 'net'), await own(String(pid), 'pid')];
        if (net !== '' && net !== ownNet && pidns !== '' && pidns !== ownPid) return pid;
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the namespace holder did not come up within 15 s');
}
