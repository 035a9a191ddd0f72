// `node test/node/cli.ts up`: a real single-node cluster (root) that runs until SIGINT/SIGTERM,
// for exploring by hand and for the test that kills its owner to prove the next run cleans up.
// Prints `KUBECONFIG=<file>` once the node is Ready.
import { realNodeUnavailable, startRealCluster } from './cluster.ts';

const [command] = process.argv.slice(2);
if (command !== 'up') {
  process.stderr.write('usage: node test/node/cli.ts up\n');
  process.exit(2);
}
const why = realNodeUnavailable();
if (why) {
  process.stderr.write(`${why}\n`);
  process.exit(1);
}
const cluster = await startRealCluster();
process.stdout.write(`run folder: ${cluster.dir}\nKUBECONFIG=${cluster.controlPlane.kubeconfigPath}\nkubectl: ${cluster.binDir}/kubectl\nSTS emulator (inside the cluster): ${cluster.stsEndpoint}\nready; Ctrl-C stops and removes everything\n`);
// SIGINT/SIGTERM stop the cluster and exit (stop-on-signal.ts)
await new Promise(() => undefined);
