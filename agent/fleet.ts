// Fleet-wide coordination through the IRSACheck resource: before probing STS for an identity, an
// agent reads the shared status; a result still fresh is reused; otherwise one agent claims the
// probe with optimistic concurrency (resourceVersion) and the others wait for its result. A claim
// expires, so an agent killed mid-probe never leaves an identity unchecked.
import type { Logger } from 'pino';
import { describeKubeError, statusOf, type KubeApi } from '../shared/kube/api.ts';
import { IrsaCheckApi, type IRSACheck, type IRSACheckStatus } from './irsa-check-api.ts';
import type { TokenCheckResult } from './check-token.ts';
import { REASONS, type Reason } from './core/reasons.ts';
import type { IdentityDiagnosis } from './diagnosis/explain.ts';
import type { IdentityKey } from './health-cache.ts';
import { nextCheckDelay, nextStreak, type SchedulePolicy } from './checks/schedule.ts';

export { IRSACHECK, type IRSACheck, type IRSACheckStatus } from './irsa-check-api.ts';

export interface FleetOutcome {
  readonly result: TokenCheckResult;
  readonly nextCheckAt: number;
  readonly streak: number;
  /** True when this agent called STS; false when it reused another agent's result. */
  readonly probedHere: boolean;
}

export interface FleetOptions {
  readonly api: KubeApi;
  readonly nodeName: string;
  readonly logger: Logger;
  readonly policy: SchedulePolicy;
  readonly claimTtlMs: number;
  readonly pollMs?: number;
  readonly random?: () => number;
  /** A message for people, from a result (the Event text). */
  readonly describe: (id: IdentityKey, result: TokenCheckResult) => string;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const time = (s: string | undefined): number => (s ? Date.parse(s) : 0);
export class FleetCoordinator {
  private readonly api: IrsaCheckApi;
  private readonly opts: FleetOptions;
  private unavailable = false;

  constructor(opts: FleetOptions) {
    this.opts = opts;
    this.api = new IrsaCheckApi(opts.api);
  }

  /** False once the API server said it does not know IRSACheck (the CRD is not installed). */
  get enabled(): boolean {
    return !this.unavailable;
  }

  private async getOrCreate(namespace: string, name: string): Promise<IRSACheck> {
    const existing = await this.api.get(namespace, name);
    if (existing) return existing;
    try {
      return await this.api.create(namespace, name);
    } catch (err) {
      if (statusOf(err) === 409) {
        const created = await this.api.get(namespace, name);
        if (created) return created;
      }
      throw err;
    }
  }

  private async writeStatus(obj: IRSACheck, status: IRSACheckStatus): Promise<IRSACheck> {
    return await this.api.replaceStatus({ ...obj, status });
  }

  private reusable(st: IRSACheckStatus | undefined, id: IdentityKey, kid: string | undefined, now: number): boolean {
    return st !== undefined && st.roleArn === id.roleArn && st.audience === id.audience && st.issuer === id.issuer
      && st.lastProbe?.reason !== undefined && (st.lastProbe.keyId ?? '') === (kid ?? '') && now < time(st.nextProbeAfter);
  }

  async resolve(id: IdentityKey, kid: string | undefined, run: (shared?: IdentityDiagnosis) => Promise<TokenCheckResult>): Promise<FleetOutcome> {
    if (this.unavailable) return this.local(await run(), 1);
    const name = id.serviceAccount;
    const deadline = Date.now() + 4 * this.opts.claimTtlMs;
    try {
      while (Date.now() < deadline) {
        const obj = await this.getOrCreate(id.namespace, name);
        const st = obj.status;
        const now = Date.now();
        if (this.reusable(st, id, kid, now)) return this.fromStatus(st!);
        const claim = st?.claim;
        if (claim?.holder && claim.holder !== this.opts.nodeName && time(claim.expiresAt) > now) {
          await new Promise((r) => setTimeout(r, this.opts.pollMs ?? 200));
          continue;
        }
        let claimed: IRSACheck;
        try {
          claimed = await this.writeStatus(obj, { ...st, claim: { holder: this.opts.nodeName, expiresAt: iso(now + this.opts.claimTtlMs) } });
        } catch (err) {
          if (statusOf(err) === 409) continue; // someone else moved first: look again
          throw err;
        }
        const result = await run(st?.roleArn === id.roleArn && st.audience === id.audience && st.issuer === id.issuer ? st.diagnosis : undefined);
        return await this.publish(claimed, id, kid, result);
      }
      this.opts.logger.warn({ namespace: id.namespace, serviceAccount: name }, 'no shared result in time; probing locally');
      return this.local(await run(), 1);
    } catch (err) {
      if (statusOf(err) === 404) {
        this.unavailable = true;
        this.opts.logger.warn('the IRSACheck resource is not installed; every agent probes on its own (install the chart\'s CRD)');
      } else {
        this.opts.logger.warn({ err: describeKubeError(err), namespace: id.namespace, serviceAccount: name }, 'shared status unavailable; probing locally');
      }
      return this.local(await run(), 1);
    }
  }

  private local(result: TokenCheckResult, streak: number): FleetOutcome {
    return { result, streak, probedHere: true, nextCheckAt: Date.now() + nextCheckDelay(result.verdict, streak, this.opts.policy, this.opts.random ?? Math.random) };
  }

  private fromStatus(st: IRSACheckStatus): FleetOutcome {
    const reason = (st.lastProbe?.reason ?? 'ProbeError') as Reason;
    const result: TokenCheckResult = {
      reason, verdict: REASONS[reason]?.verdict ?? 'inconclusive', detail: st.lastProbe?.detail ?? '', steps: [],
      claims: { iss: st.issuer, sub: st.subject, aud: st.audience }, stsAnswered: undefined,
      ...(st.lastProbe?.stsCode || st.lastProbe?.stsMessage ? { stsError: { code: st.lastProbe.stsCode, message: st.lastProbe.stsMessage ?? '' } } : {}),
      ...(st.diagnosis?.reason === reason ? { diagnosis: st.diagnosis } : {}),
    };
    return { result, streak: st.streak ?? 1, probedHere: false, nextCheckAt: time(st.nextProbeAfter) };
  }

  /** Writes our result; retries on conflicts, since a result is worth keeping even if the object moved. */
  private async publish(obj: IRSACheck, id: IdentityKey, kid: string | undefined, result: TokenCheckResult): Promise<FleetOutcome> {
    let current = obj;
    for (let attempt = 0; attempt < 5; attempt++) {
      const prev = current.status ?? {};
      const streak = nextStreak({ reason: prev.lastProbe?.reason, streak: prev.streak }, result.reason);
      const now = Date.now();
      const nextCheckAt = now + nextCheckDelay(result.verdict, streak, this.opts.policy, this.opts.random ?? Math.random);
      const conclusive = result.verdict !== 'inconclusive';
      const health = conclusive ? (result.verdict === 'healthy' ? 'Healthy' : 'Misconfigured') : (prev.health ?? 'Unknown');
      const reason = conclusive || !prev.reason ? result.reason : prev.reason;
      const message = conclusive || !prev.message ? this.opts.describe(id, result) : prev.message;
      const diagnosis = conclusive ? result.diagnosis : prev.diagnosis;
      const conditionStatus = health === 'Healthy' ? 'True' : health === 'Misconfigured' ? 'False' : 'Unknown';
      const previousCondition = prev.conditions?.find((c) => c.type === 'Healthy');
      const status: IRSACheckStatus = {
        roleArn: id.roleArn, audience: id.audience, issuer: id.issuer, subject: typeof result.claims?.sub === 'string' ? result.claims.sub : prev.subject ?? '',
        health, reason, ...(diagnosis?.cause ? { cause: diagnosis.cause } : {}), message: message.slice(0, 4096), ...(diagnosis ? { diagnosis } : {}),
        lastProbeTime: iso(now), lastProbeNode: this.opts.nodeName,
        lastProbe: {
          reason: result.reason, detail: result.detail.slice(0, 4096), keyId: kid ?? '',
          ...(result.stsError ? { stsCode: result.stsError.code ?? '', stsMessage: result.stsError.message.slice(0, 4096) } : {}),
        },
        nextProbeAfter: iso(nextCheckAt), streak,
        conditions: [{
          type: 'Healthy', status: conditionStatus, reason, message: message.slice(0, 32768),
          // like meta.SetStatusCondition: the transition time moves only when the status does
          lastTransitionTime: previousCondition && previousCondition.status === conditionStatus ? previousCondition.lastTransitionTime : iso(now),
          ...(current.metadata.generation !== undefined ? { observedGeneration: current.metadata.generation } : {}),
        }],
      };
      try {
        await this.writeStatus(current, status);
        return { result, nextCheckAt, streak, probedHere: true };
      } catch (err) {
        if (statusOf(err) !== 409 && statusOf(err) !== 404) throw err;
        current = await this.getOrCreate(id.namespace, id.serviceAccount);
      }
    }
    return this.local(result, 1);
  }

  /** The ServiceAccount lost its role or was deleted: its IRSACheck goes too. */
  async forget(namespace: string, serviceAccount: string): Promise<void> {
    if (this.unavailable) return;
    try {
      await this.api.delete(namespace, serviceAccount);
      this.opts.logger.info({ namespace, serviceAccount }, 'IRSACheck removed: the ServiceAccount has no AWS identity any more');
    } catch (err) {
      if (statusOf(err) !== 404) this.opts.logger.warn({ err: describeKubeError(err), namespace, serviceAccount }, 'could not remove an IRSACheck');
    }
  }

  /** Deletes IRSAChecks nobody probed for `staleAfterMs` (their ServiceAccount has no pods left anywhere). */
  async collectGarbage(staleAfterMs: number): Promise<number> {
    if (this.unavailable) return 0;
    let removed = 0;
    let cont: string | undefined;
    do {
      const page = await this.api.list(cont);
      for (const obj of page.items) {
        const st = obj.status;
        const last = time(st?.lastProbeTime) || 0;
        if (Date.now() - last < staleAfterMs || time(st?.claim?.expiresAt) > Date.now()) continue;
        try {
          await this.api.delete(obj.metadata.namespace, obj.metadata.name, obj.metadata.resourceVersion);
          removed++;
        } catch (err) {
          if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err;
        }
      }
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return removed;
  }
}
