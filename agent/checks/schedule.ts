// When each pod is checked next: the one place that owns back-off, jitter and streaks. A result that
// repeats doubles the wait from its base interval (misconfigured or retry) up to the recheck
// interval, so a fix is still seen within one interval; healthy results wait the recheck interval.
// Every wait is jittered ±20% so pods started together do not check together. The clock is
// injected, so the schedule is unit-tested without waiting.
import type { Verdict } from '../core/reasons.ts';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface SchedulePolicy {
  readonly recheckIntervalMs: number;
  readonly misconfiguredRecheckIntervalMs: number;
  readonly retryIntervalMs: number;
}

/** The interval a back-off starts from. */
export type BackoffBase = 'recheck' | 'misconfigured' | 'retry';

const BASE_OF: Readonly<Record<Verdict, BackoffBase>> = { healthy: 'recheck', misconfigured: 'misconfigured', inconclusive: 'retry' };

export function backoffDelay(base: BackoffBase, streak: number, p: SchedulePolicy, random: () => number): number {
  const jitter = 0.8 + random() * 0.4;
  if (base === 'recheck') return p.recheckIntervalMs * jitter;
  const doubling = 2 ** Math.min(Math.max(streak - 1, 0), 20);
  const from = base === 'misconfigured' ? p.misconfiguredRecheckIntervalMs : p.retryIntervalMs;
  return Math.min(p.recheckIntervalMs, from * doubling) * jitter;
}

/** The wait after a result with this verdict, seen `streak` times in a row. */
export function nextCheckDelay(verdict: Verdict, streak: number, p: SchedulePolicy, random: () => number): number {
  return backoffDelay(BASE_OF[verdict], streak, p, random);
}

/** How many results in a row said `reason`, counting this one. */
export function nextStreak(previous: { readonly reason: string | undefined; readonly streak: number | undefined } | undefined, reason: string): number {
  return previous?.reason === reason ? (previous.streak ?? 0) + 1 : 1;
}

/** What a check decided about the next one. */
export type NextCheck =
  | { readonly kind: 'backoff'; readonly base: BackoffBase; readonly reason: string }
  | { readonly kind: 'at'; readonly at: number }
  | { readonly kind: 'none' };

export interface PodSchedulerOptions {
  readonly clock: Clock;
  readonly policy: SchedulePolicy;
  readonly random: () => number;
  /** At most this many checks run at once. */
  readonly concurrency: number;
}

/** The due time, running set and back-off streak of every pod. */
export class PodScheduler {
  private readonly opts: PodSchedulerOptions;
  private readonly due = new Map<string, number>();
  private readonly streaks = new Map<string, { reason: string; streak: number }>();
  private readonly running = new Set<string>();

  constructor(opts: PodSchedulerOptions) {
    this.opts = opts;
  }

  /** Check the pod as soon as a slot is free (it is new, or something it depends on changed). */
  markDue(key: string): void {
    this.due.set(key, this.opts.clock.now());
  }

  forget(key: string): void {
    this.due.delete(key);
    this.streaks.delete(key);
  }

  /** Records what a check decided; returns when the pod is due again (undefined: not until something changes). */
  after(key: string, next: NextCheck): number | undefined {
    const now = this.opts.clock.now();
    if (next.kind === 'none') {
      this.streaks.delete(key);
      return undefined;
    }
    let at: number;
    if (next.kind === 'at') {
      this.streaks.delete(key);
      at = next.at;
    } else {
      const streak = nextStreak(this.streaks.get(key), next.reason);
      this.streaks.set(key, { reason: next.reason, streak });
      at = now + backoffDelay(next.base, streak, this.opts.policy, this.opts.random);
    }
    this.due.set(key, at);
    return at;
  }

  /** Pods due now and not running, as many as free slots allow; each is marked running. */
  takeDue(): string[] {
    const now = this.opts.clock.now();
    const taken: string[] = [];
    for (const [key, at] of this.due) {
      if (this.running.size >= this.opts.concurrency) break;
      if (at > now || this.running.has(key)) continue;
      this.due.delete(key);
      this.running.add(key);
      taken.push(key);
    }
    return taken;
  }

  done(key: string): void {
    this.running.delete(key);
  }

  dueAt(key: string): number | undefined {
    return this.due.get(key);
  }

  /** Nothing running and nothing due now. */
  get idle(): boolean {
    const now = this.opts.clock.now();
    return this.running.size === 0 && ![...this.due.values()].some((t) => t <= now);
  }

  get runningCount(): number {
    return this.running.size;
  }
}
