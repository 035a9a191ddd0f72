// client-node builds a new connection pool (an undici Agent) for every request it authenticates, so
// every call and every watch pays a TLS handshake. This KubeConfig keeps the first one per cluster,
// server, proxy and user and hands it to every later request: calls share keep-alive connections,
// as client-go's do. Users whose exec plugin may return a client certificate (which can rotate) keep
// client-node's behaviour. Impersonation that client-node drops (as-groups, as-uid, as-user-extra)
// rides on the dispatcher too (impersonation.ts).
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';
// only to build the dispatcher client-node would build, over HTTP/1.1 (below); every request still goes through client-node
// eslint-disable-next-line no-restricted-imports
import { Agent, ProxyAgent } from 'undici';
import { hasSeveralValues, withImpersonation, type Impersonation } from './impersonation.ts';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

export class PooledKubeConfig extends KubeConfig {
  private pool: { readonly key: string; readonly dispatcher: Dispatcher } | undefined;
  /** Impersonation beyond `as`, by user name (filled by config.ts from the kubeconfig as written). */
  readonly impersonation = new Map<string, Impersonation>();

  constructor() {
    super();
    // Over HTTP/2 undici joins a header's values into one ("g1, g2"), which the API server takes as
    // one group; over HTTP/1.1 each value is its own header line, as kubectl sends them. So a user
    // that impersonates with several values of one header gets client-node's dispatcher built with
    // HTTP/2 off (client-node's createDispatcher is private in its types, not in its code).
    const self = this as unknown as { createDispatcher(cluster: unknown, agentOptions: unknown): Dispatcher | undefined };
    const clientNodes = self.createDispatcher.bind(this);
    self.createDispatcher = (cluster, agentOptions) => {
      const user = this.getCurrentUser();
      const impersonation = user ? this.impersonation.get(user.name) : undefined;
      if (!impersonation || !hasSeveralValues(impersonation)) return clientNodes(cluster, agentOptions);
      const opts = this.createDispatcherOptions(cluster as Parameters<KubeConfig['createDispatcherOptions']>[0], agentOptions as Parameters<KubeConfig['createDispatcherOptions']>[1]);
      if (opts.type === 'agent') return new Agent({ connect: opts.connect, allowH2: false });
      if (opts.type === 'proxy') return new ProxyAgent({ uri: opts.uri, requestTls: opts.requestTls, connect: opts.connect, allowH2: false });
      return clientNodes(cluster, agentOptions);
    };
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    const impersonation = user ? this.impersonation.get(user.name) : undefined;
    // client-node leaves plain-http servers to fetch's global dispatcher: impersonation needs one of its own
    const created = context.getDispatcher() ?? (impersonation ? new Agent({ allowH2: false }) : undefined);
    const fresh = created && impersonation ? withImpersonation(created, impersonation) : created;
    if (fresh !== created && fresh) context.setDispatcher(fresh);
    if (!fresh || !cluster || user?.exec) return;
    const key = JSON.stringify([cluster.name, cluster.server, cluster.proxyUrl ?? '', user?.name ?? '']);
    if (this.pool?.key !== key) {
      const old = this.pool?.dispatcher;
      this.pool = { key, dispatcher: fresh };
      void old?.close().catch(() => {});
      return;
    }
    // the fresh one never connected: nothing to close
    context.setDispatcher(this.pool.dispatcher);
  }

  /** Closes the shared connections: requests in flight get `graceMs` to finish, then are cut. */
  async close(graceMs = 2_000): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (!pool) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), graceMs);
    });
    const closed = await Promise.race([pool.dispatcher.close().then(() => 'closed' as const, () => 'closed' as const), late]);
    clearTimeout(timer);
    if (closed === 'late') await pool.dispatcher.destroy().catch(() => {});
  }
}
