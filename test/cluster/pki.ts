// A throw-away certificate authority for the test control plane, the webhook and the STS emulator.
// Node cannot create X.509 certificates, so this drives the openssl CLI (Debian's, always present on
// the machines this project runs on). Keys are EC P-256: fast to make, accepted by Go and Node.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

export interface CertificateAuthority {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
}

export interface IssuedCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export async function createCertificateAuthority(dir: string, commonName = 'kube-irsa test CA'): Promise<CertificateAuthority> {
  const keyFile = path.join(dir, 'ca.key');
  const certFile = path.join(dir, 'ca.crt');
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '2', '-subj', `/CN=${commonName}`, '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', keyFile, '-out', certFile], dir);
  return { certFile, keyFile, certPem: await readFile(certFile, 'utf8') };
}

export interface CertificateRequest {
  /** File stem inside dir: `<name>.crt` and `<name>.key`. */
  readonly name: string;
  readonly commonName: string;
  readonly ips?: readonly string[];
  readonly dnsNames?: readonly string[];
  /** Defaults to server and client authentication. */
  readonly extendedKeyUsage?: string;
  readonly days?: number;
}

/** Issues a leaf certificate signed by the CA; Go verifies only SANs, so loopback IPs go in the SAN. */
export async function issueCertificate(ca: CertificateAuthority, dir: string, req: CertificateRequest): Promise<IssuedCertificate> {
  const keyFile = path.join(dir, `${req.name}.key`);
  const csrFile = path.join(dir, `${req.name}.csr`);
  const certFile = path.join(dir, `${req.name}.crt`);
  const extFile = path.join(dir, `${req.name}.ext`);
  const sans = [...(req.ips ?? []).map((ip) => `IP:${ip}`), ...(req.dnsNames ?? []).map((d) => `DNS:${d}`)];
  const ext = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${req.extendedKeyUsage ?? 'serverAuth,clientAuth'}`,
    ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
  ];
  await writeFile(extFile, ext.join('\n') + '\n');
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', `/CN=${req.commonName}`, '-keyout', keyFile, '-out', csrFile], dir);
  await openssl(['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial',
    '-days', String(req.days ?? 2), '-extfile', extFile, '-out', certFile], dir);
  return { certFile, keyFile, certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
}
