// The serving certificate and key, reloaded when their files change (including a Secret volume's
// `..data` swap). A new pair is used only once both files parse and match each other, so a
// half-written rotation never breaks TLS: the previous pair keeps serving meanwhile.
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { watchFiles, type FileWatch } from '../shared/file-watch.ts';
import type { TlsPolicy } from './tls-policy.ts';

export interface ServingCertificate {
  readonly cert: string;
  readonly key: string;
  readonly notAfter: Date;
}

export class CertificateStore {
  current: ServingCertificate | undefined;
  private watch: FileWatch | undefined;
  private readonly certFile: string;
  private readonly keyFile: string;
  private readonly policy: TlsPolicy;
  private readonly logger: Logger;

  constructor(opts: { certFile: string; keyFile: string; policy: TlsPolicy; logger: Logger }) {
    this.certFile = opts.certFile;
    this.keyFile = opts.keyFile;
    this.policy = opts.policy;
    this.logger = opts.logger;
  }

  /** Reads and checks the pair; throws with the file and reason when unusable. */
  async read(): Promise<ServingCertificate> {
    let cert: string;
    let key: string;
    try {
      // one after the other, so the error names the first missing file every time
      cert = await readFile(this.certFile, 'utf8');
      key = await readFile(this.keyFile, 'utf8');
    } catch (err) {
      throw new Error(`cannot read the serving certificate or key: ${(err as Error).message}`, { cause: err });
    }
    let notAfter: Date;
    try {
      notAfter = new Date(new X509Certificate(cert).validTo);
    } catch (err) {
      throw new Error(`${this.certFile} is not a PEM certificate: ${(err as Error).message}`, { cause: err });
    }
    try {
      createSecureContext({ cert, key, minVersion: this.policy.minVersion, ...(this.policy.ciphers ? { ciphers: this.policy.ciphers } : {}) });
    } catch (err) {
      throw new Error(`${this.certFile} and ${this.keyFile} do not form a usable pair: ${(err as Error).message}`, { cause: err });
    }
    return { cert, key, notAfter };
  }

  async load(): Promise<ServingCertificate> {
    this.current = await this.read();
    return this.current;
  }

  /** Calls onChange with each new valid pair; invalid intermediate states are logged and skipped. */
  watchForChanges(onChange: (c: ServingCertificate) => void, onRejected: (err: Error) => void, pollIntervalMs = 5_000): void {
    this.watch = watchFiles([this.certFile, this.keyFile], () => {
      this.read().then((c) => {
        if (this.current && c.cert === this.current.cert && c.key === this.current.key) return;
        this.current = c;
        this.logger.info({ notAfter: c.notAfter.toISOString() }, 'serving certificate reloaded');
        onChange(c);
      }, (err: Error) => {
        this.logger.warn({ err: err.message }, 'serving certificate not reloaded; keeping the previous one');
        onRejected(err);
      });
    }, { pollIntervalMs });
  }

  close(): void {
    this.watch?.close();
  }
}
