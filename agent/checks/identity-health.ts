// The health of one identity (ServiceAccount, role, audience, issuer), shared by every pod that
// uses it: a fresh cached result, else one check, coordinated through the fleet's IRSAChecks when
// enabled so the identity is probed once per interval cluster-wide.
import type { Logger } from 'pino';
import { checkIdentityToken, type TokenCheckResult } from '../check-token.ts';
import type { Diagnoser } from '../diagnosis/diagnoser.ts';
import type { IdentityDiagnosis } from '../diagnosis/explain.ts';
import type { FleetCoordinator } from '../fleet.ts';
import { identityKeyString, type HealthCache, type IdentityKey } from '../health-cache.ts';
import type { IdentityProber } from '../identity-prober.ts';
import type { AgentMetrics } from '../metrics.ts';
import type { HealthFact, HealthRequest } from './evaluate.ts';
import type { Clock } from './schedule.ts';

export interface IdentityHealthOptions {
  readonly cache: HealthCache;
  readonly prober: IdentityProber;
  /** Explains a refusal from IAM after the verdict (undefined: IAM reads are off). */
  readonly diagnoser?: Pick<Diagnoser, 'explain'> | undefined;
  readonly fleet: FleetCoordinator | undefined;
  readonly metrics: Pick<AgentMetrics, 'setCacheSize' | 'observeProbe'>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Still an identity worth sharing? (It may have lost its role while the probe ran.) */
  readonly hasIdentity: (namespace: string, serviceAccount: string) => boolean;
}

export type IdentityHealthCheck = (namespace: string, serviceAccount: string, request: HealthRequest, region: string | undefined) => Promise<HealthFact>;

export function identityHealth(opts: IdentityHealthOptions): IdentityHealthCheck {
  const { cache, fleet, metrics, clock, logger } = opts;
  return async (namespace, serviceAccount, request, region) => {
    const now = clock.now();
    const id: IdentityKey = { namespace, serviceAccount, roleArn: request.roleArn, audience: request.audience, issuer: request.issuer };
    const cached = cache.fresh(identityKeyString(id), request.kid, now);
    if (cached) return { result: cached.current, nextCheckAt: cached.nextCheckAt, ran: false };
    const probe = async (shared?: IdentityDiagnosis): Promise<TokenCheckResult> => {
      const result = await checkIdentityToken({
        token: request.token, roleArn: request.roleArn, audience: request.audience, region, nowSeconds: Math.floor(now / 1000), prober: opts.prober, statics: request.statics,
      });
      return opts.diagnoser ? opts.diagnoser.explain(result, request.roleArn, shared) : result;
    };
    const checked = await cache.check(id, request.kid, () => clock.now(), async () =>
      fleet ? fleet.resolve(id, request.kid, probe) : { result: await probe(), probedHere: true });
    // the ServiceAccount lost its role while this probe ran: its shared result may have been
    // written back after the IRSACheck was removed, so remove it again
    if (fleet && !opts.hasIdentity(namespace, serviceAccount)) void fleet.forget(namespace, serviceAccount);
    metrics.setCacheSize(cache.size);
    const r = checked.health.current;
    if (checked.probedHere && r) {
      metrics.observeProbe(r.verdict, r.reason);
      logger.info({ namespace, serviceAccount, roleArn: request.roleArn, reason: r.reason, verdict: r.verdict, sts: r.stsError?.code, ...(r.diagnosis?.cause ? { cause: r.diagnosis.cause } : {}) }, 'identity checked');
    }
    return { result: r, nextCheckAt: checked.health.nextCheckAt, ran: checked.ran };
  };
}
