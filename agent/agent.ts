// The node agent, assembled from its parts: watch/ (the pods on this node; ServiceAccounts, mapping
// and associations behind the shared IdentityResolver), checks/ (one pod's check as a pure
// evaluate() fed with facts; the schedule that owns back-off), report/ (the verdict each pod shows,
// its Events and metrics; the IRSAChecks kept in step). This file only wires them and runs the loop.
import type { Logger } from 'pino';
import { serviceAccountOf, type Resolution } from '../shared/identity/resolver.ts';
import { IdentitySources } from '../shared/identity/identity-sources.ts';
import type { KubeApi } from '../shared/kube/api.ts';
import type { Reflector } from '../shared/kube/reflector.ts';
import { checkPodIdentity, type PodCheckDeps } from './checks/pod-check.ts';
import { identityHealth } from './checks/identity-health.ts';
import { PodScheduler, systemClock, type Clock } from './checks/schedule.ts';
import type { PodVerdict } from './checks/evaluate.ts';
import type { AgentConfig } from './config.ts';
import { eventMessage } from './core/messages.ts';
import { Diagnoser } from './diagnosis/diagnoser.ts';
import { IamReader, type AwsCredentials } from './diagnosis/iam-reader.ts';
import { EventRecorder } from './event-recorder.ts';
import { FleetCoordinator } from './fleet.ts';
import { HealthCache } from './health-cache.ts';
import { IdentityProber } from './identity-prober.ts';
import type { AgentMetrics } from './metrics.ts';
import { RateLimiter } from './rate-limiter.ts';
import { IrsaCheckKeeper } from './report/irsa-checks.ts';
import { PodVerdicts } from './report/pod-verdicts.ts';
import { kubeletTokenSource, tokenRequestSource } from './token-source.ts';
import { EnvSourceReader, readEnvSource } from './watch/env-sources.ts';
import { NodePods } from './watch/pods.ts';

export type { PodVerdict } from './checks/evaluate.ts';

export interface AgentOptions {
  readonly config: AgentConfig;
  readonly api: KubeApi;
  readonly logger: Logger;
  readonly metrics: AgentMetrics;
  readonly random?: () => number;
  readonly clock?: Clock;
  /** How often due pods are looked at. */
  readonly tickMs?: number;
  /** The credentials of the IAM reads (default: the SDK's default chain). */
  readonly awsCredentials?: AwsCredentials;
}

const CONCURRENCY = 16;
/** How long a pod check waits for a live ServiceAccount lookup when the watch has not delivered it. */
const SERVICE_ACCOUNT_LOOKUP_MS = 5_000;

export class Agent {
  private readonly opts: AgentOptions;
  private readonly log: Logger;
  private readonly pods: NodePods;
  private readonly inputs: IdentitySources;
  private readonly scheduler: PodScheduler;
  private readonly verdicts: PodVerdicts;
  private readonly keeper: IrsaCheckKeeper;
  private readonly events: EventRecorder;
  private readonly prober: IdentityProber;
  private readonly diagnoser: Diagnoser | undefined;
  private readonly checkDeps: PodCheckDeps;
  private readonly podReflector: Reflector;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(opts: AgentOptions) {
    this.opts = opts;
    const { config, api, logger, metrics } = opts;
    const random = opts.random ?? Math.random;
    const clock = opts.clock ?? systemClock;
    const log = logger.child({ node: config.nodeName });
    this.log = log;
    const policy = { recheckIntervalMs: config.recheckIntervalMs, misconfiguredRecheckIntervalMs: config.misconfiguredRecheckIntervalMs, retryIntervalMs: config.retryIntervalMs };
    this.scheduler = new PodScheduler({ clock, policy, random, concurrency: CONCURRENCY });
    this.events = new EventRecorder({
      api, nodeName: config.nodeName, logger: log,
      onEmitted: (type, reason) => metrics.observeEvent(type, reason),
      onDropped: (cause) => metrics.observeEventDropped(cause),
    });
    this.verdicts = new PodVerdicts({ nodeName: config.nodeName, events: this.events, metrics, logger: log });
    const health = new HealthCache({ capacity: config.cacheSize, random, policy, onLookup: (hit) => metrics.observeCacheLookup(hit) });
    const fleet = config.fleet ? new FleetCoordinator({
      api, nodeName: config.nodeName, logger: log, claimTtlMs: config.claimTimeoutMs, random, policy,
      describe: (id, r) => eventMessage({
        reason: r.reason, detail: r.detail, roleArn: id.roleArn, audience: id.audience, namespace: id.namespace, serviceAccount: id.serviceAccount, claims: r.claims,
        ...(r.stsError ? { stsError: r.stsError } : {}), ...(r.diagnosis ? { diagnosis: r.diagnosis } : {}),
      }),
    }) : undefined;
    this.keeper = new IrsaCheckKeeper({ health, fleet, staleAfterMs: config.staleAfterMs, random, logger: log });
    this.pods = new NodePods({
      clock,
      handlers: {
        changed: (key) => this.scheduler.markDue(key),
        gone: (key) => {
          this.scheduler.forget(key);
          this.verdicts.forget(key);
        },
      },
    });
    this.podReflector = this.pods.reflector({ api, nodeName: config.nodeName, annotationPrefix: config.identity.annotationPrefix, logger: log });
    // live lookups cover a watch that lags (or is resuming) behind the pods that name a ServiceAccount;
    // a relist, the mapping or the associations changing: any pod may resolve differently
    this.inputs = new IdentitySources({
      api, defaults: config.identity, watchConfigMap: config.watchConfigMap, configMapNamespace: config.configMapNamespace,
      containerCredentialsFile: config.containerCredentialsFile, lookupGracePeriodMs: SERVICE_ACCOUNT_LOOKUP_MS, logger: log,
      keepPlainServiceAccounts: false,
      onServiceAccount: (ns, name) => this.serviceAccountChanged(ns, name),
      onRelist: () => this.everythingChanged(), onMappingEvent: () => this.everythingChanged(), onCredentialsEvent: () => this.everythingChanged(),
    });
    // one budget for the STS probes and the IAM reads that explain them
    const limiter = new RateLimiter(config.stsQps, config.stsQps * 2);
    this.prober = new IdentityProber({
      nodeName: config.nodeName, defaultRegion: config.region, stsEndpoint: config.stsEndpoint, issuerCaPems: config.issuerCaPems, limiter,
      onStsCall: (outcome, seconds) => metrics.observeSts(outcome, seconds),
    });
    this.diagnoser = config.iamReads ? new Diagnoser({
      ttlMs: config.iamCacheTtlMs, logger: log,
      reader: new IamReader({ limiter, iamEndpoint: config.iamEndpoint, stsEndpoint: config.stsEndpoint, stsRegion: config.region, ...(opts.awsCredentials ? { credentials: opts.awsCredentials } : {}) }),
    }) : undefined;
    this.checkDeps = {
      resolver: this.inputs.resolver, clock,
      tokens: config.tokenSource === 'kubelet' ? kubeletTokenSource(config.kubeletRootDir) : tokenRequestSource(api),
      health: identityHealth({ cache: health, prober: this.prober, diagnoser: this.diagnoser, fleet, metrics, clock, logger: log, hasIdentity: (ns, sa) => this.keeper.has(ns, sa) }),
      policy: { tokenWaitMs: config.tokenWaitMs, retryIntervalMs: config.retryIntervalMs, recheckIntervalMs: config.recheckIntervalMs },
      // what a check resolved (a live read may have updated the cache behind the watch) keeps the
      // set of identities with an IRSACheck in step
      onResolved: (r: Resolution) => {
        if (r.lookup !== undefined && r.lookup !== 'miss') this.keeper.track(r.namespace, r.serviceAccount, r.identity);
      },
      envSources: new EnvSourceReader({ read: readEnvSource(api), clock, logger: log }),
    };
  }

  async start(): Promise<void> {
    const { config } = this.opts;
    await this.inputs.startFiles();
    await this.inputs.startWatches();
    await this.podReflector.start();
    this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 200);
    this.timer.unref();
    this.keeper.startGarbageCollection();
    this.log.info({ pods: this.pods.size, tokenSource: config.tokenSource, stsEndpoint: config.stsEndpoint ?? `regional (${config.region})` }, 'agent started');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.keeper.stop();
    this.podReflector.stop();
    this.inputs.stop();
    await this.whenIdle(() => this.scheduler.runningCount === 0);
    await this.events.flush();
    this.prober.close();
    this.diagnoser?.close();
  }

  isReady(): boolean {
    return this.podReflector.synced && this.inputs.notSynced === undefined;
  }

  /** Process and watches alive: the pod watch heard from the API server recently. */
  isHealthy(): boolean {
    const last = this.podReflector.lastContact;
    return !this.stopped && (last === 0 || Date.now() - last < 10 * 60_000);
  }

  /** The verdict reported for a pod on this node. */
  podVerdict(namespace: string, name: string): PodVerdict | undefined {
    return this.verdicts.shown(`${namespace}/${name}`);
  }

  /** When the pod is due for its next check (undefined: not scheduled, or being checked now). */
  nextCheckAt(namespace: string, name: string): number | undefined {
    return this.scheduler.dueAt(`${namespace}/${name}`);
  }

  /** Waits until everything due is checked and its Events are sent (for tests and shutdown). */
  async settle(): Promise<void> {
    await this.whenIdle(() => this.scheduler.idle);
    await this.events.flush();
  }

  /** Resolves once `done()` holds, looking again whenever a check finishes or the loop ticks. */
  private whenIdle(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (done()) resolve();
        else this.idleWaiters.push(check);
      };
      this.idleWaiters.push(check);
    });
  }

  private wakeWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private serviceAccountChanged(namespace: string, name: string): void {
    let used = false;
    for (const [key, pod] of this.pods.entries()) {
      if (pod.metadata?.namespace !== namespace || serviceAccountOf(pod) !== name) continue;
      used = true;
      this.scheduler.markDue(key);
    }
    if (used || this.keeper.has(namespace, name)) this.keeper.track(namespace, name, this.inputs.resolver.resolveCached(namespace, name));
  }

  private everythingChanged(): void {
    const seen = new Set<string>();
    for (const [key, pod] of this.pods.entries()) {
      this.scheduler.markDue(key);
      const namespace = pod.metadata?.namespace ?? '';
      const name = serviceAccountOf(pod);
      if (seen.has(`${namespace}/${name}`)) continue;
      seen.add(`${namespace}/${name}`);
      this.keeper.track(namespace, name, this.inputs.resolver.resolveCached(namespace, name));
    }
  }

  private tick(): void {
    for (const key of this.scheduler.takeDue()) {
      this.check(key).catch((err: unknown) => {
        this.log.error({ err: (err as Error).message, pod: key }, 'pod check failed unexpectedly; retrying');
        this.scheduler.after(key, { kind: 'at', at: Date.now() + this.opts.config.retryIntervalMs });
      }).finally(() => {
        this.scheduler.done(key);
        this.wakeWaiters();
      });
    }
    this.wakeWaiters();
  }

  private async check(key: string): Promise<void> {
    const pod = this.pods.get(key);
    if (!pod || this.stopped) return;
    const decision = await checkPodIdentity(pod, this.pods.firstSeenAt(key), this.checkDeps);
    // the pod went away (or was recreated) while it was checked: its result no longer applies
    if (this.pods.get(key) !== pod) return;
    if (decision.kind === 'forget') this.verdicts.forget(key);
    if (decision.kind === 'report') {
      const ref = { namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '', uid: pod.metadata?.uid || undefined, serviceAccount: serviceAccountOf(pod) };
      this.verdicts.report(key, ref, decision.verdict, decision.fresh);
    }
    this.scheduler.after(key, decision.kind === 'forget' ? { kind: 'none' } : decision.next);
  }
}
