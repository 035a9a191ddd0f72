// Elastic admission threads (--workers N with --worker-idle-timeout): a webhook waits most of the
// time and is busy in bursts (rollouts, node drains, autoscaling). Every worker thread is a V8
// isolate with its own fastify, pino and prom-client (15-30 MiB resident, README "Benchmarks"), so
// the threads beyond the first start when the running ones are busy and stop once the load has fit
// in one thread fewer for the idle timeout. Pure: workers.ts samples each thread's event-loop
// utilization and acts on the decisions.

export interface ScalingPolicy {
  /** --workers: the main thread included. */
  readonly maxThreads: number;
  /** A thread is added when the running threads' mean event-loop utilization reaches this. */
  readonly busyAt: number;
  /** The load fits in one thread fewer when it would keep those below this mean utilization. */
  readonly fitsBelow: number;
  /** How long the load must have fit in one thread fewer before a thread stops (Infinity: never). */
  readonly idleMs: number;
}

export const DEFAULT_SCALING: Omit<ScalingPolicy, 'maxThreads' | 'idleMs'> = { busyAt: 0.7, fitsBelow: 0.35 };

export type ScalingDecision = 'add' | 'remove' | 'hold';

export class ThreadScaler {
  private readonly policy: ScalingPolicy;
  /** When the running threads were last all needed. */
  private neededAt: number;

  constructor(policy: ScalingPolicy, now: number) {
    this.policy = policy;
    this.neededAt = now;
  }

  /** `utilization`: each running thread's event-loop utilization (0..1) over the last sample. */
  decide(now: number, utilization: readonly number[]): ScalingDecision {
    const threads = utilization.length;
    const load = utilization.reduce((a, b) => a + b, 0);
    if (threads <= 1 || load >= this.policy.fitsBelow * (threads - 1)) this.neededAt = now;
    if (threads < this.policy.maxThreads && load / Math.max(threads, 1) >= this.policy.busyAt) return 'add';
    if (threads > 1 && now - this.neededAt >= this.policy.idleMs) {
      this.neededAt = now;
      return 'remove';
    }
    return 'hold';
  }
}

/**
 * How many of the main thread's keep-alive connections to close after their next answer so that
 * clients reconnect and the kernel (SO_REUSEPORT) spreads them over every thread: threads that start
 * while clients are connected get no connection of their own otherwise. `mainUtilization` is the
 * main thread's, `utilization` every thread's (main included). Half the imbalance per sample (a
 * reconnection lands on another thread only (n-1)/n of the time), so it converges without swinging.
 */
export function connectionsToShed(mainUtilization: number, utilization: readonly number[], mainConnections: number): number {
  const threads = utilization.length;
  if (threads < 2 || mainConnections < 2) return 0;
  const mean = utilization.reduce((a, b) => a + b, 0) / threads;
  // balanced enough, or the main thread is not what is busy
  if (mainUtilization < DEFAULT_SCALING.busyAt || mainUtilization - mean < 0.15) return 0;
  const excess = (mainUtilization - mean) / mainUtilization;
  return Math.min(mainConnections - 1, Math.round((excess * mainConnections * threads) / (threads - 1) / 2));
}
