// An HTTPS server on 127.0.0.1 with a certificate of a fresh test CA (or of the one given), for
// tests that need a peer speaking TLS the way the API server or an OIDC issuer does.
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCertificateAuthority, issueCertificate, type CertificateAuthority } from '../cluster/pki.ts';

export interface LoopbackHttps {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  /** The CA that signed the server's certificate; trust it to connect. */
  readonly ca: CertificateAuthority;
  /** A scratch folder that close() removes. */
  readonly dir: string;
  readonly server: https.Server;
  close(): Promise<void>;
}

export async function startLoopbackHttps(handler: RequestListener): Promise<LoopbackHttps> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kube-irsa-https-'));
  const ca = await createCertificateAuthority(dir);
  const cert = await issueCertificate(ca, dir, { name: 'server', commonName: '127.0.0.1', ips: ['127.0.0.1'] });
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, ca, dir, server,
    async close() {
      server.closeAllConnections();
      server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
