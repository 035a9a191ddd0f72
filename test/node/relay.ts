// Runs inside the test cluster's private network namespace and carries connections in from the
// machine's own namespace: it listens on a Unix socket (a file, so both namespaces see it) and
// each connection names its target in a first line, `HOST PORT\n`, then carries bytes both ways.
// The test's side is hostBridge() in network.ts. Node addresses never exist outside the namespace.
//
//   node test/node/relay.ts <socket-path>
import net from 'node:net';

const socketPath = process.argv[2];
if (!socketPath) {
  process.stderr.write('usage: relay.ts <socket-path>\n');
  process.exit(2);
}

const HEADER_LIMIT = 256;

const server = net.createServer((inbound) => {
  let header = '';
  const onData = (chunk: Buffer): void => {
    header += chunk.toString('latin1');
    const end = header.indexOf('\n');
    if (end < 0) {
      if (header.length > HEADER_LIMIT) inbound.destroy();
      return;
    }
    inbound.off('data', onData);
    inbound.pause();
    const [host, port] = header.slice(0, end).split(' ');
    const rest = Buffer.from(header.slice(end + 1), 'latin1');
    const outbound = net.connect(Number(port), host ?? '', () => {
      if (rest.length > 0) outbound.write(rest);
      inbound.pipe(outbound);
      outbound.pipe(inbound);
      inbound.resume();
    });
    outbound.on('error', () => inbound.destroy());
    inbound.on('error', () => outbound.destroy());
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  };
  inbound.on('data', onData);
});
server.listen(socketPath, () => process.stdout.write(`relay listening on ${socketPath}\n`));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0));
