// Where the API server is and who we are to it, found as kubectl finds it, through client-node's
// KubeConfig: --kubeconfig (that file only), else $KUBECONFIG (a list of files merged, the first to
// set a name or the current context wins, missing files skipped), else ~/.kube/config, else the
// in-cluster ServiceAccount; then --context picks a context, --kube-api replaces the server, and
// HTTPS_PROXY/NO_PROXY apply when the kubeconfig names no proxy-url; an exec plugin that asks for
// the cluster's details (provideClusterInfo) gets them, as from kubectl.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig, type Cluster, type Context, type User } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { withExecClusterInfo } from './exec-cluster-info.ts';
import { impersonationOf } from './impersonation.ts';
import { PooledKubeConfig } from './pooled-kube-config.ts';
import { proxyForServer } from './proxy-env.ts';

export interface KubeConfigOptions {
  /** --kubeconfig */
  readonly kubeconfig?: string;
  /** --context */
  readonly context?: string;
  /** --kube-api: replaces the current cluster's server. */
  readonly kubeApi?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Prefix of the in-cluster ServiceAccount files (tests); '' in a pod. */
  readonly inClusterRoot?: string;
}

export class KubeConfigError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'KubeConfigError';
  }
}

const NO_SERVER = 'no Kubernetes API server: pass --kubeconfig (or --kube-api), set $KUBECONFIG or ~/.kube/config, or run inside a cluster';

/** The kubeconfig files kubectl would read, in order ([] when it would use the in-cluster configuration or nothing). */
export function kubeconfigFiles(opts: Pick<KubeConfigOptions, 'kubeconfig' | 'env'>): string[] {
  const env = opts.env ?? process.env;
  if (opts.kubeconfig) return [opts.kubeconfig];
  if (env.KUBECONFIG) return env.KUBECONFIG.split(path.delimiter).filter((f) => f !== '' && existsSync(f));
  const home = env.HOME || env.USERPROFILE;
  const file = home ? path.join(home, '.kube', 'config') : undefined;
  return file && existsSync(file) ? [file] : [];
}

/** Whether any source of an API server is configured (the services check this at flag time). */
export function hasApiServerSource(opts: Pick<KubeConfigOptions, 'kubeconfig' | 'kubeApi' | 'env'>): boolean {
  const env = opts.env ?? process.env;
  return Boolean(opts.kubeApi) || Boolean(env.KUBERNETES_SERVICE_HOST) || kubeconfigFiles(opts).length > 0;
}

export function loadKubeConfig(opts: KubeConfigOptions): PooledKubeConfig {
  const env = opts.env ?? process.env;
  const kc = new PooledKubeConfig();
  const files = kubeconfigFiles(opts);
  try {
    if (files.length > 0) mergeFiles(kc, files);
    else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster(opts.inClusterRoot ?? '');
    else if (opts.kubeApi) kc.loadFromClusterAndUser({ name: 'kube-api', server: opts.kubeApi, skipTLSVerify: false }, { name: 'anonymous' });
    else throw new KubeConfigError(NO_SERVER);
  } catch (err) {
    if (err instanceof KubeConfigError) throw err;
    throw new KubeConfigError(`cannot load the Kubernetes client configuration${files.length > 0 ? ` from ${files.join(path.delimiter)}` : ''}: ${(err as Error).message}`, err);
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) throw new KubeConfigError(`context "${opts.context}" is not defined in ${files.join(path.delimiter) || 'the configuration'}`);
    kc.setCurrentContext(opts.context);
  }
  const context = kc.getContextObject(kc.getCurrentContext());
  const where = files.join(path.delimiter) || 'the in-cluster configuration';
  if (!context) throw new KubeConfigError(`${where} has no current context${kc.getCurrentContext() ? ` ("${kc.getCurrentContext()}" is not defined)` : ''}; pass --context`);
  const cluster = kc.getCluster(context.cluster);
  if (!cluster) throw new KubeConfigError(`${where}: cluster "${context.cluster}" of context "${context.name}" is not defined`);
  if (context.user && !kc.getUser(context.user)) throw new KubeConfigError(`${where}: user "${context.user}" of context "${context.name}" is not defined`);
  if (context.user && kc.impersonation.has(context.user) && !kc.getUser(context.user)?.impersonateUser) {
    throw new KubeConfigError(`${where}: user "${context.user}" sets as-groups, as-uid or as-user-extra without "as" (the user to impersonate), which kubectl refuses too`);
  }
  const server = opts.kubeApi || cluster.server;
  try {
    const url = new URL(server);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    throw new KubeConfigError(`${opts.kubeApi ? '--kube-api' : `${where}: cluster "${cluster.name}" server`}: "${server}" is not an http(s) URL`);
  }
  const proxyUrl = cluster.proxyUrl ?? proxyForServer(server, env);
  const patched: Cluster = { ...cluster, server, ...(proxyUrl ? { proxyUrl } : {}) };
  const user = context.user ? kc.getUser(context.user) : null;
  const execUser = user ? withExecClusterInfo(user, patched) : undefined;
  if (server !== cluster.server || proxyUrl !== cluster.proxyUrl || execUser) {
    kc.loadFromOptions({
      clusters: kc.getClusters().map((c) => (c === cluster ? patched : c)), users: kc.getUsers().map((u) => (u === user && execUser ? execUser : u)),
      contexts: kc.getContexts(), currentContext: kc.getCurrentContext(),
    });
  }
  return kc;
}

/** The namespace of the current context, when it names one. */
export function contextNamespace(kc: KubeConfig): string | undefined {
  return kc.getContextObject(kc.getCurrentContext())?.namespace || undefined;
}

/** kubectl's merge of several kubeconfig files: the first file to define a name (or the current context) wins. */
function mergeFiles(kc: PooledKubeConfig, files: readonly string[]): void {
  const clusters = new Map<string, Cluster>();
  const users = new Map<string, User>();
  const contexts = new Map<string, Context>();
  let currentContext = '';
  for (const file of files) {
    const one = new KubeConfig();
    // read once: client-node parses it, and its tokenFile fields (which client-node drops) come from the same text
    const text = readFileSync(file, 'utf8');
    one.loadFromString(text);
    one.makePathsAbsolute(path.dirname(file));
    const raw = rawUsersOf(text);
    for (const c of one.getClusters()) if (!clusters.has(c.name)) clusters.set(c.name, c);
    for (const u of one.getUsers()) {
      if (users.has(u.name)) continue;
      const rawUser = raw.get(u.name);
      users.set(u.name, withTokenFile(u, typeof rawUser?.tokenFile === 'string' && rawUser.tokenFile !== '' ? rawUser.tokenFile : undefined, file));
      const impersonation = impersonationOf(rawUser);
      if (impersonation) kc.impersonation.set(u.name, impersonation);
    }
    for (const c of one.getContexts()) if (!contexts.has(c.name)) contexts.set(c.name, c);
    currentContext ||= one.getCurrentContext() ?? '';
  }
  // a single context and no current-context (written by a tool) is unambiguous
  if (!currentContext && contexts.size === 1) currentContext = [...contexts.keys()][0] ?? '';
  kc.loadFromOptions({ clusters: [...clusters.values()], users: [...users.values()], contexts: [...contexts.values()], currentContext });
}

/**
 * The users' entries as written, by name: what client-node drops from them is read here — the
 * `tokenFile` (client-go's and kubectl's name for it; client-node reads only `token-file`) and
 * impersonation beyond `as` (impersonation.ts).
 */
function rawUsersOf(text: string): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  const doc = parse(text) as { users?: Array<{ name?: unknown; user?: unknown }> } | null;
  for (const u of doc?.users ?? []) {
    if (typeof u.name === 'string' && u.user && typeof u.user === 'object') out.set(u.name, u.user as Record<string, unknown>);
  }
  return out;
}

/** `user` with the token its tokenFile holds (relative to the kubeconfig, as kubectl reads it), unless it has a token already. */
function withTokenFile(user: User, tokenFile: string | undefined, kubeconfig: string): User {
  if (!tokenFile || user.token) return user;
  try {
    return { ...user, token: readFileSync(path.resolve(path.dirname(kubeconfig), tokenFile), 'utf8').trim() };
  } catch (err) {
    throw new KubeConfigError(`${kubeconfig}: user "${user.name}" tokenFile ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, err);
  }
}
