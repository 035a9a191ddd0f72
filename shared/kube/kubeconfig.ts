// Where the API server is and who we are to it, from the reference webhook's flags: --kubeconfig and
// --kube-api (either or both), else the in-cluster ServiceAccount, else a clear error. Reads the
// kubeconfig fields clusters, users and contexts use in practice (client-go's names), and refuses
// the rest by name rather than connecting as somebody else.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Yaml from 'yaml';
import { execCredentials, fileToken, staticCredentials, type Credentials, type ExecConfig } from './credentials.ts';

export interface KubeConnectionOptions {
  /** --kubeconfig */
  readonly kubeconfig?: string;
  /** --kube-api: overrides the server of the kubeconfig's current cluster. */
  readonly kubeApi?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** The in-cluster ServiceAccount's files (token, ca.crt); the kubelet's path unless a test says otherwise. */
  readonly serviceAccountDir?: string;
}

export interface TlsSettings {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly rejectUnauthorized: boolean;
  readonly servername?: string;
}

export interface KubeConnection {
  /** The API server's base URL (may carry a path prefix). */
  readonly server: URL;
  readonly tls: TlsSettings;
  readonly credentials: Credentials;
  readonly impersonate?: { readonly user: string; readonly groups: readonly string[] };
}

export class KubeConnectionError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'KubeConnectionError';
  }
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export function loadKubeConnection(opts: KubeConnectionOptions): KubeConnection {
  const env = opts.env ?? process.env;
  try {
    if (opts.kubeconfig) return fromKubeconfigFile(opts.kubeconfig, opts.kubeApi);
    if (env.KUBERNETES_SERVICE_HOST) return inCluster(env, opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR, opts.kubeApi);
    if (opts.kubeApi) return { server: parseServer(opts.kubeApi, '--kube-api'), tls: { rejectUnauthorized: true }, credentials: staticCredentials(undefined) };
  } catch (err) {
    if (err instanceof KubeConnectionError) throw err;
    throw new KubeConnectionError(`cannot load the Kubernetes client configuration${opts.kubeconfig ? ` from ${opts.kubeconfig}` : ''}: ${(err as Error).message}`, err);
  }
  throw new KubeConnectionError('no Kubernetes API server: pass --kubeconfig (or --kube-api), or run inside a cluster');
}

function inCluster(env: NodeJS.ProcessEnv, dir: string, kubeApi: string | undefined): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  const server = kubeApi ?? `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    server: parseServer(server, 'the in-cluster API server'),
    tls: { rejectUnauthorized: true, ca: readText(path.join(dir, 'ca.crt'), 'the in-cluster CA') },
    // bound ServiceAccount tokens rotate: read the file again as client-go does
    credentials: fileToken(path.join(dir, 'token')),
  };
}

type Named<K extends string, T> = { name?: string } & { [key in K]?: T };

interface KubeconfigFile {
  'current-context'?: string;
  clusters?: Named<'cluster', Record<string, unknown>>[];
  users?: Named<'user', Record<string, unknown>>[];
  contexts?: Named<'context', { cluster?: string; user?: string }>[];
}

function fromKubeconfigFile(file: string, kubeApi: string | undefined): KubeConnection {
  const dir = path.dirname(path.resolve(file));
  const doc = parseYaml(readText(file, 'the kubeconfig')) as KubeconfigFile | null;
  if (!doc || typeof doc !== 'object') throw new KubeConnectionError(`the kubeconfig ${file} is empty or not a mapping`);
  const contextName = doc['current-context'];
  const contexts = doc.contexts ?? [];
  // a kubeconfig without current-context but with a single context (e.g. written by a tool) is unambiguous
  const context = contextName ? contexts.find((c) => c.name === contextName)?.context : contexts.length === 1 ? contexts[0]?.context : undefined;
  if (!context) throw new KubeConnectionError(`the kubeconfig ${file} has no current cluster${contextName ? ` (context "${contextName}" is not defined)` : ' (no current-context)'}`);
  const cluster = (doc.clusters ?? []).find((c) => c.name === context.cluster)?.cluster;
  if (!cluster) throw new KubeConnectionError(`the kubeconfig ${file} has no current cluster (cluster "${context.cluster ?? ''}" is not defined)`);
  const user = context.user ? (doc.users ?? []).find((u) => u.name === context.user)?.user : {};
  if (!user) throw new KubeConnectionError(`the kubeconfig ${file}: user "${context.user}" is not defined`);

  const at = (field: string) => `${file}: ${field}`;
  const str = (obj: Record<string, unknown>, key: string, where: string): string | undefined => {
    const v = obj[key];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw new KubeConnectionError(`${at(`${where}.${key}`)} must be a string`);
    return v;
  };
  const fileOrData = (obj: Record<string, unknown>, key: string, where: string): string | undefined => {
    const data = str(obj, `${key}-data`, where);
    if (data) return Buffer.from(data, 'base64').toString('utf8');
    const f = str(obj, key, where);
    return f ? readText(path.resolve(dir, f), `${where}.${key}`) : undefined;
  };

  if (str(cluster, 'proxy-url', 'cluster')) throw new KubeConnectionError(`${at('cluster.proxy-url')} is not supported; reach the API server directly`);
  const server = kubeApi ?? str(cluster, 'server', 'cluster');
  if (!server) throw new KubeConnectionError(`${at('cluster.server')} is missing`);
  const ca = fileOrData(cluster, 'certificate-authority', 'cluster');
  const servername = str(cluster, 'tls-server-name', 'cluster');
  const tls: TlsSettings = {
    rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
    ...(ca ? { ca } : {}),
    ...(servername ? { servername } : {}),
  };

  if (user['auth-provider']) throw new KubeConnectionError(`${at('user.auth-provider')} (legacy gcp/azure/oidc plugins) is not supported; use an exec credential plugin`);
  const cert = fileOrData(user, 'client-certificate', 'user');
  const key = fileOrData(user, 'client-key', 'user');
  if (Boolean(cert) !== Boolean(key)) throw new KubeConnectionError(`${at('user')} needs both client-certificate and client-key`);

  let credentials: Credentials;
  const token = str(user, 'token', 'user');
  const tokenFile = str(user, 'tokenFile', 'user');
  const username = str(user, 'username', 'user');
  if (token) credentials = staticCredentials(`Bearer ${token}`);
  else if (tokenFile) credentials = fileToken(path.resolve(dir, tokenFile));
  else if (username) credentials = staticCredentials(`Basic ${Buffer.from(`${username}:${str(user, 'password', 'user') ?? ''}`).toString('base64')}`);
  else if (user.exec) credentials = execCredentials(parseExec(user.exec, dir, at('user.exec')), server);
  else credentials = staticCredentials(undefined);

  const as = str(user, 'as', 'user');
  const groups = user['as-groups'];
  if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) throw new KubeConnectionError(`${at('user.as-groups')} must be a list of strings`);
  return {
    server: parseServer(server, at('cluster.server')),
    tls: cert && key ? { ...tls, cert, key } : tls,
    credentials,
    ...(as ? { impersonate: { user: as, groups: (groups) ?? [] } } : {}),
  };
}

function parseExec(raw: unknown, dir: string, where: string): ExecConfig {
  const exec = raw as { command?: unknown; args?: unknown; env?: unknown; apiVersion?: unknown };
  if (typeof exec?.command !== 'string' || exec.command === '') throw new KubeConnectionError(`${where}.command is missing`);
  const args = exec.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw new KubeConnectionError(`${where}.args must be a list of strings`);
  const env = (exec.env ?? []) as { name?: unknown; value?: unknown }[];
  if (!Array.isArray(env) || !env.every((e) => typeof e?.name === 'string' && typeof e.value === 'string')) throw new KubeConnectionError(`${where}.env must be a list of {name, value}`);
  // client-go resolves a command with a path separator against the kubeconfig's directory
  const command = exec.command.includes('/') ? path.resolve(dir, exec.command) : exec.command;
  return {
    command, args: args,
    env: Object.fromEntries(env.map((e) => [e.name as string, e.value as string])),
    apiVersion: typeof exec.apiVersion === 'string' ? exec.apiVersion : 'client.authentication.k8s.io/v1',
  };
}

/**
 * The YAML parser is loaded only for a kubeconfig file: in a cluster (the agent on every node) it
 * is never needed, and loading it costs ~4 MiB of resident memory. Loading must be synchronous
 * here, hence require (yaml ships a CommonJS build).
 */
function parseYaml(text: string): unknown {
  const { parse } = createRequire(import.meta.url)('yaml') as typeof Yaml;
  return parse(text);
}

function parseServer(server: string, where: string): URL {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new KubeConnectionError(`${where}: "${server}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new KubeConnectionError(`${where}: "${server}" must be an http(s) URL`);
  return url;
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new KubeConnectionError(`cannot read ${what} (${file}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, err);
  }
}
