// The node agent: watches the pods on its node, the ServiceAccounts of their namespaces and the
// mapping ConfigMap; resolves each pod's identity with the webhook's own code; checks the pod spec,
// the token the pod uses, the issuer's keys and STS; and reports every verdict as Events, metrics
// and queryable state. Inconclusive results never turn a healthy identity into a broken one.
import type { Logger } from 'pino';
import { ContainerCredentialsConfig } from '../shared/identity/container-credentials.ts';
import { MappingSource } from '../shared/identity/mapping-source.ts';
import { resolveIdentity, type ResolvedIdentity } from '../shared/identity/resolve.ts';
import { readServiceAccount, ServiceAccountCache } from '../shared/identity/service-account-cache.ts';
import type { KubeClient } from '../shared/kube/client.ts';
import { corePath, type Pod } from '../shared/kube/objects.ts';
import { createReflector, type Reflector } from '../shared/kube/reflector.ts';
import { decodeToken, type TokenClaims } from '../shared/oidc/jwt.ts';
import type { AgentConfig } from './config.ts';
import { checkIdentityToken } from './check-token.ts';
import { eventMessage } from './core/messages.ts';
import { checkPod, podRegion, podServiceAccountName, tokenLocation, type AgentPod } from './core/pod-checks.ts';
import { REASONS, type Reason, type Verdict } from './core/reasons.ts';
import { checkTokenStatically } from './core/verdicts.ts';
import { EventRecorder } from './event-recorder.ts';
import { FleetCoordinator } from './fleet.ts';
import { HealthCache, identityKeyString, type IdentityKey } from './health-cache.ts';
import { IdentityProber } from './identity-prober.ts';
import type { AgentMetrics, HealthStatus } from './metrics.ts';
import { RateLimiter } from './rate-limiter.ts';
import { kubeletTokenSource, tokenRequestSource, type TokenSource } from './token-source.ts';

/** The webhook's record of what it injected (kept in sync with webhook/core/patch.ts by a test). */
export const INJECTED_ANNOTATION = 'kube-irsa.io/injected';

export interface PodVerdict {
  readonly reason: Reason;
  readonly verdict: Verdict;
  readonly detail: string;
  readonly roleArn: string | undefined;
  readonly audience: string | undefined;
  readonly claims: TokenClaims | undefined;
  readonly stsError?: { readonly code: string | undefined; readonly message: string };
  readonly checkedAt: number;
}

interface PodState {
  /** What is reported: the latest result, except that an inconclusive one never hides a healthy one. */
  shown: PodVerdict;
  latest: PodVerdict;
  readonly namespace: string;
  readonly serviceAccount: string;
}

interface NamespaceServiceAccounts {
  readonly cache: ServiceAccountCache;
  readonly reflector: Reflector;
  readonly synced: Promise<void>;
}

export interface AgentOptions {
  readonly config: AgentConfig;
  readonly client: KubeClient;
  readonly logger: Logger;
  readonly metrics: AgentMetrics;
  readonly random?: () => number;
  /** How often due pods are looked at. */
  readonly tickMs?: number;
}

const CONCURRENCY = 16;
/** How long a pod check waits for a live ServiceAccount lookup when the watch has not delivered it. */
const SERVICE_ACCOUNT_LOOKUP_MS = 5_000;

/** Keeps what the checks read of a Pod, so a node's pods cost little memory. */
export function compactPod(p: Pod, prefix: string): AgentPod {
  const containers = (list: NonNullable<Pod['spec']>['containers'] | undefined) => (list ?? []).map((c) => ({
    name: c.name,
    env: (c.env ?? []).filter((e) => e.name.startsWith('AWS_') && e.value !== undefined).map((e) => ({ name: e.name, value: e.value })),
    volumeMounts: (c.volumeMounts ?? []).map((m) => ({ name: m.name, mountPath: m.mountPath })),
  }));
  const annotations = Object.fromEntries(Object.entries(p.metadata?.annotations ?? {}).filter(([k]) => k === INJECTED_ANNOTATION || k.startsWith(`${prefix}/`)));
  return {
    metadata: {
      name: p.metadata?.name ?? '', namespace: p.metadata?.namespace ?? '', uid: p.metadata?.uid ?? '', annotations,
      ...(p.metadata?.deletionTimestamp ? { deletionTimestamp: true } : {}),
    },
    spec: {
      nodeName: p.spec?.nodeName ?? '', serviceAccountName: p.spec?.serviceAccountName ?? '',
      containers: containers(p.spec?.containers), initContainers: containers(p.spec?.initContainers),
      volumes: (p.spec?.volumes ?? []).filter((v) => v.projected?.sources?.some((s) => s.serviceAccountToken)).map((v) => ({
        name: v.name,
        projected: { sources: (v.projected?.sources ?? []).filter((s) => s.serviceAccountToken).map((s) => ({ serviceAccountToken: { audience: s.serviceAccountToken?.audience ?? '', expirationSeconds: s.serviceAccountToken?.expirationSeconds ?? 0, path: s.serviceAccountToken?.path ?? '' } })) },
      })),
    },
    status: { phase: p.status?.phase ?? '' },
  };
}

export class Agent {
  private readonly opts: AgentOptions;
  private readonly log: Logger;
  private readonly pods = new Map<string, AgentPod>();
  private readonly states = new Map<string, PodState>();
  private readonly serviceAccounts = new Map<string, NamespaceServiceAccounts>();
  private readonly mapping: MappingSource;
  private readonly health: HealthCache;
  private readonly prober: IdentityProber;
  private readonly tokens: TokenSource;
  private readonly events: EventRecorder;
  private readonly fleet: FleetCoordinator | undefined;
  /** ServiceAccounts seen with an AWS identity, so losing it (or the ServiceAccount) removes their IRSACheck. */
  private readonly withIdentity = new Set<string>();
  private gcTimer: NodeJS.Timeout | undefined;
  private readonly due = new Map<string, number>();
  private readonly firstSeen = new Map<string, number>();
  private readonly inProgress = new Set<string>();
  private readonly reflectors: Reflector[] = [];
  private podReflector: Reflector | undefined;
  private cmReflector: Reflector | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(opts: AgentOptions) {
    this.opts = opts;
    const { config, client, logger, metrics } = opts;
    this.log = logger.child({ node: config.nodeName });
    this.mapping = new MappingSource({ defaults: config.identity, logger: this.log, onEvent: () => this.scheduleAll() });
    this.health = new HealthCache({
      capacity: config.cacheSize, random: opts.random ?? Math.random,
      policy: { recheckIntervalMs: config.recheckIntervalMs, misconfiguredRecheckIntervalMs: config.misconfiguredRecheckIntervalMs, retryIntervalMs: config.retryIntervalMs },
      onLookup: (hit) => metrics.observeCacheLookup(hit),
    });
    this.prober = new IdentityProber({
      nodeName: config.nodeName, defaultRegion: config.region, stsEndpoint: config.stsEndpoint, issuerCaPems: config.issuerCaPems,
      limiter: new RateLimiter(config.stsQps, config.stsQps * 2),
      onStsCall: (outcome, seconds) => metrics.observeSts(outcome, seconds),
    });
    this.tokens = config.tokenSource === 'kubelet' ? kubeletTokenSource(config.kubeletRootDir) : tokenRequestSource(client);
    this.fleet = config.fleet ? new FleetCoordinator({
      client, nodeName: config.nodeName, logger: this.log, claimTtlMs: config.claimTimeoutMs, random: opts.random ?? Math.random,
      policy: { recheckIntervalMs: config.recheckIntervalMs, misconfiguredRecheckIntervalMs: config.misconfiguredRecheckIntervalMs, retryIntervalMs: config.retryIntervalMs },
      describe: (id, r) => eventMessage({
        reason: r.reason, detail: r.detail, roleArn: id.roleArn, audience: id.audience, namespace: id.namespace, serviceAccount: id.serviceAccount, claims: r.claims,
        ...(r.stsError ? { stsError: r.stsError } : {}),
      }),
    }) : undefined;
    this.events = new EventRecorder({
      client, nodeName: config.nodeName, logger: this.log,
      onEmitted: (type, reason) => metrics.observeEvent(type, reason),
      onDropped: (cause) => metrics.observeEventDropped(cause),
    });
  }

  async start(): Promise<void> {
    const { config, client } = this.opts;
    this.podReflector = createReflector<Pod, AgentPod>({
      client, resource: 'pods', path: corePath('pods'), fieldSelector: `spec.nodeName=${config.nodeName}`, logger: this.log,
      transform: (p) => compactPod(p, config.identity.annotationPrefix),
      handlers: {
        replace: (entries) => {
          for (const key of [...this.pods.keys()]) if (!entries.has(key)) this.forgetPod(key);
          for (const [key, pod] of entries) this.upsertPod(key, pod);
        },
        upsert: (key, pod) => this.upsertPod(key, pod),
        remove: (key) => this.forgetPod(key),
      },
    });
    this.reflectors.push(this.podReflector);
    if (config.watchConfigMap) {
      this.cmReflector = this.mapping.reflector({ client, namespace: config.configMapNamespace });
      this.reflectors.push(this.cmReflector);
      await this.cmReflector.start();
    }
    await this.podReflector.start();
    this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 200);
    this.timer.unref();
    if (this.fleet) this.scheduleGarbageCollection();
    this.log.info({ pods: this.pods.size, tokenSource: config.tokenSource, stsEndpoint: config.stsEndpoint ?? `regional (${config.region})` }, 'agent started');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.gcTimer) clearTimeout(this.gcTimer);
    for (const r of this.reflectors) r.stop();
    for (const ns of this.serviceAccounts.values()) ns.reflector.stop();
    while (this.inProgress.size > 0) await new Promise((r) => setTimeout(r, 20));
    await this.events.flush();
    this.prober.close();
  }

  isReady(): boolean {
    return (this.podReflector?.synced ?? false) && (!this.cmReflector || this.cmReflector.synced);
  }

  /** Process and watches alive: the pod watch heard from the API server recently. */
  isHealthy(): boolean {
    const last = this.podReflector?.lastContact ?? 0;
    return !this.stopped && (last === 0 || Date.now() - last < 10 * 60_000);
  }

  /** The verdict reported for a pod on this node. */
  podVerdict(namespace: string, name: string): PodVerdict | undefined {
    return this.states.get(`${namespace}/${name}`)?.shown;
  }

  /** Waits until everything queued is evaluated and its Events are sent (for tests and shutdown). */
  async settle(): Promise<void> {
    while (this.inProgress.size > 0 || [...this.due.values()].some((t) => t <= Date.now())) await new Promise((r) => setTimeout(r, 20));
    await this.events.flush();
  }

  /** Pods are keyed `namespace/name`; a pod recreated under the same name starts afresh. */
  private upsertPod(key: string, pod: AgentPod): void {
    const previous = this.pods.get(key);
    if (previous && previous.metadata?.uid !== pod.metadata?.uid) this.states.delete(key);
    this.pods.set(key, pod);
    if (!this.firstSeen.has(key) || previous?.metadata?.uid !== pod.metadata?.uid) this.firstSeen.set(key, Date.now());
    if (pod.metadata?.deletionTimestamp || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') {
      this.forgetPod(key);
      return;
    }
    this.ensureNamespace(pod.metadata?.namespace ?? '');
    this.due.set(key, Date.now());
  }

  private forgetPod(key: string): void {
    const pod = this.pods.get(key);
    this.pods.delete(key);
    this.firstSeen.delete(key);
    this.due.delete(key);
    const state = this.states.get(key);
    this.states.delete(key);
    if (state) this.refreshServiceAccount(state.namespace, state.serviceAccount);
    this.refreshPodCounts();
    const ns = pod?.metadata?.namespace;
    if (ns && ![...this.pods.values()].some((p) => p.metadata?.namespace === ns)) {
      this.serviceAccounts.get(ns)?.reflector.stop();
      this.serviceAccounts.delete(ns);
    }
  }

  /** ServiceAccounts are watched only in namespaces that have pods on this node. */
  private ensureNamespace(namespace: string): NamespaceServiceAccounts {
    let entry = this.serviceAccounts.get(namespace);
    if (entry) return entry;
    const { config, client } = this.opts;
    // live lookups cover a watch that lags (or is resuming) behind the pods that name a ServiceAccount
    const cache = new ServiceAccountCache({ defaults: config.identity, read: readServiceAccount(client), gracePeriodMs: SERVICE_ACCOUNT_LOOKUP_MS, logger: this.log });
    const reflector = createReflector({
      client, resource: `serviceaccounts/${namespace}`, path: corePath('namespaces', namespace, 'serviceaccounts'), logger: this.log,
      transform: cache.transform,
      handlers: {
        replace: (entries) => {
          cache.replace(entries);
          for (const key of entries.keys()) this.trackIdentity(cache, key);
          this.scheduleNamespace(namespace);
        },
        upsert: (key, value) => {
          cache.upsert(key, value);
          this.trackIdentity(cache, key);
          this.scheduleNamespace(namespace, key.split('/')[1]);
        },
        remove: (key) => {
          cache.remove(key);
          this.trackIdentity(cache, key);
          this.scheduleNamespace(namespace, key.split('/')[1]);
        },
      },
    });
    entry = { cache, reflector, synced: reflector.start() };
    this.serviceAccounts.set(namespace, entry);
    return entry;
  }

  /** Notices a ServiceAccount losing its AWS identity (or being deleted) and removes its IRSACheck. */
  private trackIdentity(cache: ServiceAccountCache, key: string): void {
    const [namespace = '', name = ''] = key.split('/');
    const sa = cache.peek(namespace, name);
    const identity = sa ? resolveIdentity({
      namespace, serviceAccountName: name, serviceAccount: sa, mapping: this.mapping.current,
      containerCredentials: ContainerCredentialsConfig.empty, defaults: this.opts.config.identity,
    }) : undefined;
    if (identity?.mode === 'web-identity') {
      this.withIdentity.add(key);
    } else if (this.withIdentity.delete(key)) {
      this.health.forgetServiceAccount(namespace, name);
      void this.fleet?.forget(namespace, name);
    }
  }

  private scheduleGarbageCollection(): void {
    const { staleAfterMs } = this.opts.config;
    const delay = (staleAfterMs / 2) * (0.5 + (this.opts.random ?? Math.random)());
    this.gcTimer = setTimeout(() => {
      this.fleet?.collectGarbage(staleAfterMs).then(
        (n) => n > 0 && this.log.info({ removed: n }, 'stale IRSAChecks removed'),
        (err: unknown) => this.log.warn({ err: (err as Error).message }, 'IRSACheck garbage collection failed'),
      ).finally(() => {
        if (!this.stopped) this.scheduleGarbageCollection();
      });
    }, delay);
    this.gcTimer.unref();
  }

  private scheduleNamespace(namespace: string, serviceAccount?: string): void {
    for (const [key, pod] of this.pods) {
      if (pod.metadata?.namespace !== namespace) continue;
      if (serviceAccount !== undefined && podServiceAccountName(pod) !== serviceAccount) continue;
      this.due.set(key, Date.now());
    }
  }

  private scheduleAll(): void {
    for (const key of this.pods.keys()) this.due.set(key, Date.now());
  }

  private tick(): void {
    const now = Date.now();
    for (const [key, at] of this.due) {
      if (this.inProgress.size >= CONCURRENCY) break;
      if (at > now || this.inProgress.has(key)) continue;
      this.due.delete(key);
      this.inProgress.add(key);
      this.evaluate(key).catch((err: unknown) => {
        this.log.error({ err: (err as Error).message, pod: key }, 'pod check failed unexpectedly; retrying');
        this.due.set(key, Date.now() + this.opts.config.retryIntervalMs);
      }).finally(() => this.inProgress.delete(key));
    }
  }

  private async resolve(namespace: string, serviceAccountName: string, cache: ServiceAccountCache, fresh: boolean): Promise<ResolvedIdentity | undefined> {
    const { identity: serviceAccount, outcome } = await cache.get(namespace, serviceAccountName, fresh);
    // a live read updated the cache behind the watch: keep the set of identities in step
    if (outcome !== 'hit' && outcome !== 'miss') this.trackIdentity(cache, `${namespace}/${serviceAccountName}`);
    return resolveIdentity({
      namespace, serviceAccountName, serviceAccount,
      mapping: this.mapping.current, containerCredentials: ContainerCredentialsConfig.empty, defaults: this.opts.config.identity,
    });
  }

  private async evaluate(key: string): Promise<void> {
    const pod = this.pods.get(key);
    if (!pod || this.stopped) return;
    const { config, metrics } = this.opts;
    const namespace = pod.metadata?.namespace ?? '';
    const serviceAccount = podServiceAccountName(pod);
    const nsEntry = this.ensureNamespace(namespace);
    await nsEntry.synced;
    let identity = await this.resolve(namespace, serviceAccount, nsEntry.cache, false);
    let findings = checkPod(pod, identity, INJECTED_ANNOTATION);
    if (findings.some((f) => f.reason === 'StaleRole')) {
      // a role that differs from the pod's may only be the watch lagging: confirm it live
      identity = await this.resolve(namespace, serviceAccount, nsEntry.cache, true);
      findings = checkPod(pod, identity, INJECTED_ANNOTATION);
    }
    const now = Date.now();
    const base = { roleArn: identity?.mode === 'web-identity' ? identity.roleArn : undefined, audience: identity?.mode === 'web-identity' ? identity.audience : undefined, checkedAt: now };

    if (identity?.mode !== 'web-identity') {
      const f = findings[0];
      if (f) this.report(key, pod, { ...base, reason: f.reason, verdict: REASONS[f.reason].verdict, detail: f.detail, claims: undefined }, true);
      else if (this.states.has(key)) this.forgetResult(key);
      return;
    }
    const notMutated = findings.find((f) => f.reason === 'PodNotMutated');
    if (notMutated) {
      this.report(key, pod, { ...base, reason: notMutated.reason, verdict: 'misconfigured', detail: notMutated.detail, claims: undefined }, true);
      this.due.set(key, now + config.misconfiguredRecheckIntervalMs);
      return;
    }
    const read = await this.tokens.read(pod, tokenLocation(pod), identity.audience);
    const firstSeen = this.firstSeen.get(key) ?? now;
    if (!read.ok && now - firstSeen < config.tokenWaitMs) {
      // the kubelet mounts the token only when it sets the pod up: not a problem yet
      this.due.set(key, now + Math.min(config.retryIntervalMs, config.tokenWaitMs));
      return;
    }
    if (!read.ok) {
      this.report(key, pod, { ...base, reason: 'TokenUnreadable', verdict: 'misconfigured', detail: read.detail, claims: undefined }, true);
      this.due.set(key, now + config.retryIntervalMs);
      return;
    }
    // problems of this pod's own token are never cached for the identity: other pods may be fine
    const nowSeconds = Math.floor(now / 1000);
    const statics = checkTokenStatically(read.token, identity.audience, identity.roleArn, nowSeconds);
    if (!statics.ok && statics.reason !== 'InvalidRoleArn') {
      this.report(key, pod, { ...base, reason: statics.reason, verdict: REASONS[statics.reason].verdict, detail: statics.detail, claims: statics.facts?.claims }, true);
      this.due.set(key, now + config.retryIntervalMs);
      return;
    }
    const kid = statics.facts?.kid ?? safeKid(read.token);
    const id: IdentityKey = { namespace, serviceAccount, roleArn: identity.roleArn, audience: identity.audience, issuer: String(statics.facts?.claims.iss ?? '') };
    let health = this.health.fresh(identityKeyString(id), kid, now);
    let ran = false;
    if (!health) {
      const probe = () => checkIdentityToken({
        token: read.token, roleArn: identity.roleArn, audience: identity.audience, region: podRegion(pod), nowSeconds, prober: this.prober,
      });
      const checked = await this.health.check(id, kid, () => Date.now(), async () =>
        this.fleet ? this.fleet.resolve(id, kid, probe) : { result: await probe(), probedHere: true });
      ({ health, ran } = checked);
      // the ServiceAccount lost its role while this probe ran: its shared result may have been
      // written back after the IRSACheck was removed, so remove it again
      if (this.fleet && !this.withIdentity.has(`${namespace}/${serviceAccount}`)) void this.fleet.forget(namespace, serviceAccount);
      const probedHere = checked.probedHere;
      metrics.setCacheSize(this.health.size);
      const r = health.current;
      if (probedHere && r) {
        metrics.observeProbe(r.verdict, r.reason);
        this.log.info({ namespace, serviceAccount, roleArn: identity.roleArn, reason: r.reason, verdict: r.verdict, sts: r.stsError?.code }, 'identity checked');
      }
    }
    const result = health.current;
    if (!result) return;
    const podFinding = findings[0];
    const verdict: PodVerdict = podFinding
      ? { ...base, reason: podFinding.reason, verdict: REASONS[podFinding.reason].verdict, detail: podFinding.detail, claims: result.claims }
      : { ...base, reason: result.reason, verdict: result.verdict, detail: result.detail, claims: result.claims, ...(result.stsError ? { stsError: result.stsError } : {}) };
    this.report(key, pod, verdict, ran || podFinding !== undefined);
    this.due.set(key, Math.min(health.nextCheckAt, now + config.recheckIntervalMs));
  }

  private forgetResult(key: string): void {
    const state = this.states.get(key);
    this.states.delete(key);
    if (state) this.refreshServiceAccount(state.namespace, state.serviceAccount);
    this.refreshPodCounts();
  }

  /** Records the pod's verdict; Events on transitions and on each fresh confirmation of a problem. */
  private report(key: string, pod: AgentPod, latest: PodVerdict, fresh: boolean): void {
    const namespace = pod.metadata?.namespace ?? '';
    const serviceAccount = podServiceAccountName(pod);
    const prev = this.states.get(key);
    const keepHealthy = latest.verdict === 'inconclusive' && prev?.shown.verdict === 'healthy';
    const shown = keepHealthy ? prev.shown : latest;
    this.states.set(key, { shown, latest, namespace, serviceAccount });
    this.refreshServiceAccount(namespace, serviceAccount);
    this.refreshPodCounts();
    if (keepHealthy) {
      this.log.info({ namespace, serviceAccount, reason: latest.reason }, 'check inconclusive; keeping the last healthy verdict');
      return;
    }
    const changed = prev?.shown.reason !== shown.reason;
    if (!changed && !(fresh && shown.verdict !== 'healthy')) return;
    if (shown.verdict === 'healthy' && !changed) return;
    const message = eventMessage({
      reason: shown.reason, detail: shown.detail, roleArn: shown.roleArn, audience: shown.audience, namespace, serviceAccount, claims: shown.claims,
      ...(shown.stsError ? { stsError: shown.stsError } : {}), recovered: prev !== undefined && prev.shown.verdict !== 'healthy',
    });
    const type = shown.verdict === 'healthy' ? 'Normal' : 'Warning';
    const podName = pod.metadata?.name ?? '';
    this.events.record({ kind: 'Pod', namespace, name: podName, ...(pod.metadata?.uid ? { uid: pod.metadata.uid } : {}) }, type, shown.reason, message);
    // node-scope problems name the pod on the ServiceAccount's Event; identity-scope ones are the same for every pod
    const saMessage = REASONS[shown.reason].scope === 'node' && shown.verdict !== 'healthy' ? `Pod ${podName} on node ${this.opts.config.nodeName}: ${message}` : message;
    this.events.record({ kind: 'ServiceAccount', namespace, name: serviceAccount }, type, shown.reason, saMessage);
  }

  /** A ServiceAccount's health on this node: its worst pod verdict. */
  private refreshServiceAccount(namespace: string, serviceAccount: string): void {
    const rank: Record<Verdict, number> = { healthy: 0, inconclusive: 1, misconfigured: 2 };
    let worst: PodVerdict | undefined;
    for (const s of this.states.values()) {
      if (s.namespace !== namespace || s.serviceAccount !== serviceAccount) continue;
      if (!worst || rank[s.shown.verdict] > rank[worst.verdict]) worst = s.shown;
    }
    if (!worst) {
      this.opts.metrics.clearServiceAccount(namespace, serviceAccount);
      return;
    }
    const status: HealthStatus = worst.verdict === 'healthy' ? 'healthy' : worst.verdict === 'misconfigured' ? 'misconfigured' : 'unknown';
    this.opts.metrics.setServiceAccountHealth(namespace, serviceAccount, worst.reason, status);
  }

  private refreshPodCounts(): void {
    const counts = new Map<Reason, number>();
    for (const s of this.states.values()) counts.set(s.shown.reason, (counts.get(s.shown.reason) ?? 0) + 1);
    this.opts.metrics.setPodCounts(counts);
  }
}

function safeKid(token: string): string | undefined {
  try {
    return decodeToken(token).kid;
  } catch {
    return undefined;
  }
}
