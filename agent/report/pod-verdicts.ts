// The verdict each pod on this node shows, and its reporting: Events on the pod and its
// ServiceAccount (decided by event-policy.ts), the per-ServiceAccount health metric (its worst pod)
// and the pod counts by reason.
import type { Logger } from 'pino';
import { eventMessage } from '../core/messages.ts';
import { REASONS, type Reason, type Verdict } from '../core/reasons.ts';
import type { EventObject, EventType } from '../event-recorder.ts';
import type { AgentMetrics, HealthStatus } from '../metrics.ts';
import type { PodVerdict } from '../checks/evaluate.ts';
import { decideReport } from './event-policy.ts';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string | undefined;
  readonly serviceAccount: string;
}

interface PodState {
  readonly pod: PodRef;
  /** What is reported: the latest result, except that an inconclusive one never hides a healthy one. */
  readonly shown: PodVerdict;
  readonly latest: PodVerdict;
}

export interface PodVerdictsOptions {
  readonly nodeName: string;
  readonly events: { record(obj: EventObject, type: EventType, reason: string, message: string): void };
  readonly metrics: Pick<AgentMetrics, 'setServiceAccountHealth' | 'clearServiceAccount' | 'setPodCounts'>;
  readonly logger: Logger;
}

const RANK: Readonly<Record<Verdict, number>> = { healthy: 0, inconclusive: 1, misconfigured: 2 };

export class PodVerdicts {
  private readonly opts: PodVerdictsOptions;
  private readonly states = new Map<string, PodState>();

  constructor(opts: PodVerdictsOptions) {
    this.opts = opts;
  }

  shown(key: string): PodVerdict | undefined {
    return this.states.get(key)?.shown;
  }

  /** Records a pod's latest result; `fresh`: a check confirmed it just now (not a cached answer). */
  report(key: string, pod: PodRef, latest: PodVerdict, fresh: boolean): void {
    const prev = this.states.get(key);
    const decision = decideReport(prev?.shown, latest, fresh);
    this.states.set(key, { pod, shown: decision.shown, latest });
    this.refresh(pod.namespace, pod.serviceAccount);
    if (decision.keptHealthy) {
      this.opts.logger.info({ namespace: pod.namespace, serviceAccount: pod.serviceAccount, reason: latest.reason }, 'check inconclusive; keeping the last healthy verdict');
    }
    if (!decision.event) return;
    const { shown } = decision;
    const { namespace, serviceAccount, name } = pod;
    const message = eventMessage({
      reason: shown.reason, detail: shown.detail, roleArn: shown.roleArn, audience: shown.audience, namespace, serviceAccount, claims: shown.claims,
      ...(shown.stsError ? { stsError: shown.stsError } : {}), ...(shown.diagnosis ? { diagnosis: shown.diagnosis } : {}), recovered: decision.event.recovered,
    });
    const { type } = decision.event;
    this.opts.events.record({ kind: 'Pod', namespace, name, ...(pod.uid ? { uid: pod.uid } : {}) }, type, shown.reason, message);
    // node-scope problems name the pod on the ServiceAccount's Event; identity-scope ones are the same for every pod
    const saMessage = REASONS[shown.reason].scope === 'node' && shown.verdict !== 'healthy' ? `Pod ${name} on node ${this.opts.nodeName}: ${message}` : message;
    this.opts.events.record({ kind: 'ServiceAccount', namespace, name: serviceAccount }, type, shown.reason, saMessage);
  }

  /** The pod is gone, or has nothing to report any more. */
  forget(key: string): void {
    const state = this.states.get(key);
    if (!this.states.delete(key) || !state) return;
    this.refresh(state.pod.namespace, state.pod.serviceAccount);
  }

  /** A ServiceAccount's health on this node is its worst pod verdict; then the pod counts. */
  private refresh(namespace: string, serviceAccount: string): void {
    let worst: PodVerdict | undefined;
    const counts = new Map<Reason, number>();
    for (const s of this.states.values()) {
      counts.set(s.shown.reason, (counts.get(s.shown.reason) ?? 0) + 1);
      if (s.pod.namespace !== namespace || s.pod.serviceAccount !== serviceAccount) continue;
      if (!worst || RANK[s.shown.verdict] > RANK[worst.verdict]) worst = s.shown;
    }
    if (!worst) {
      this.opts.metrics.clearServiceAccount(namespace, serviceAccount);
    } else {
      const status: HealthStatus = worst.verdict === 'healthy' ? 'healthy' : worst.verdict === 'misconfigured' ? 'misconfigured' : 'unknown';
      this.opts.metrics.setServiceAccountHealth(namespace, serviceAccount, worst.reason, status);
    }
    this.opts.metrics.setPodCounts(counts);
  }
}
