// Which verdict a pod shows and whether it deserves an Event, as a pure function. An inconclusive
// result never hides a healthy verdict (STS throttling is not a broken identity); a changed reason
// is always news; a problem confirmed by a fresh check is news again (so it stays visible while it
// lasts, at the back-off pace); a healthy pod staying healthy is not.
import type { EventType } from '../event-recorder.ts';
import type { PodVerdict } from '../checks/evaluate.ts';

export interface ReportDecision {
  /** The verdict to show from now on. */
  readonly shown: PodVerdict;
  /** The latest result was inconclusive and the healthy verdict was kept. */
  readonly keptHealthy: boolean;
  readonly event: { readonly type: EventType; readonly recovered: boolean } | undefined;
}

export function decideReport(previous: PodVerdict | undefined, latest: PodVerdict, fresh: boolean): ReportDecision {
  if (latest.verdict === 'inconclusive' && previous?.verdict === 'healthy') return { shown: previous, keptHealthy: true, event: undefined };
  const changed = previous?.reason !== latest.reason;
  const healthy = latest.verdict === 'healthy';
  const news = healthy ? changed : changed || fresh;
  return {
    shown: latest,
    keptHealthy: false,
    event: news ? { type: healthy ? 'Normal' : 'Warning', recovered: healthy && previous !== undefined && previous.verdict !== 'healthy' } : undefined,
  };
}
