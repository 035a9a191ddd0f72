// Who we are to the API server, as an Authorization header value: fixed (token, basic), read from a
// file that rotates (the in-cluster bound token), or obtained from an exec credential plugin
// (client.authentication.k8s.io, what cloud kubeconfigs use for `kube-irsa doctor`). A 401 makes
// the next request fetch anew. Header values are never logged.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export interface Credentials {
  /** The Authorization header for the next request, if any. */
  authorization(): Promise<string | undefined>;
  /** The API server answered 401: the cached value is stale. */
  invalidate(): void;
}

export function staticCredentials(authorization: string | undefined): Credentials {
  return { authorization: () => Promise.resolve(authorization), invalidate: () => {} };
}

/** client-go re-reads a token file every minute; kubelet rotates projected tokens well before expiry. */
const TOKEN_FILE_TTL_MS = 60_000;

export function fileToken(file: string, ttlMs = TOKEN_FILE_TTL_MS): Credentials {
  return cached(async () => {
    let token: string;
    try {
      token = (await readFile(file, 'utf8')).trim();
    } catch (err) {
      throw new Error(`cannot read the API server token file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    return { value: `Bearer ${token}`, expiresAt: Date.now() + ttlMs };
  });
}

export interface ExecConfig {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly apiVersion: string;
}

const EXEC_TIMEOUT_MS = 60_000;

export function execCredentials(exec: ExecConfig, server: string): Credentials {
  return cached(async () => {
    const output = await runPlugin(exec, server);
    let parsed: { status?: { token?: unknown; expirationTimestamp?: unknown; clientCertificateData?: unknown } };
    try {
      parsed = JSON.parse(output) as typeof parsed;
    } catch {
      throw new Error(`the exec credential plugin ${exec.command} did not print an ExecCredential (JSON)`);
    }
    const token = parsed.status?.token;
    if (typeof token !== 'string' || token === '') {
      throw new Error(parsed.status?.clientCertificateData
        ? `the exec credential plugin ${exec.command} returned a client certificate; only token-returning plugins are supported`
        : `the exec credential plugin ${exec.command} returned no status.token`);
    }
    const expiry = typeof parsed.status?.expirationTimestamp === 'string' ? Date.parse(parsed.status.expirationTimestamp) : NaN;
    // refresh a little early so a request never carries a token that expires in flight
    return { value: `Bearer ${token}`, expiresAt: Number.isFinite(expiry) ? expiry - 10_000 : Number.POSITIVE_INFINITY };
  });
}

function runPlugin(exec: ExecConfig, server: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const info = { apiVersion: exec.apiVersion, kind: 'ExecCredential', spec: { interactive: false, cluster: { server } } };
    const child = spawn(exec.command, exec.args, {
      env: { ...process.env, ...exec.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) },
      // the plugin's own messages (e.g. "run gcloud auth login") belong to the person at the terminal
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // spawn's own `timeout` keeps its timer when the command cannot start (no 'exit' follows)
    const timer = setTimeout(() => child.kill('SIGKILL'), EXEC_TIMEOUT_MS);
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run the exec credential plugin ${exec.command}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(chunks).toString('utf8'));
      else reject(new Error(`the exec credential plugin ${exec.command} failed (${signal ? `signal ${signal}` : `exit code ${code}`})`));
    });
  });
}

/** Shares one fetch among concurrent callers and keeps its value until it expires or is invalidated. */
function cached(fetch: () => Promise<{ value: string; expiresAt: number }>): Credentials {
  let current: { value: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;
  return {
    authorization() {
      if (current && Date.now() < current.expiresAt) return Promise.resolve(current.value);
      pending ??= fetch().then((c) => {
        current = c;
        return c.value;
      }).finally(() => {
        pending = undefined;
      });
      return pending;
    },
    invalidate() {
      current = undefined;
    },
  };
}
