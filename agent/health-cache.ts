// Health per identity (namespace, ServiceAccount, role, audience, issuer): a bounded LRU with the
// re-check schedule. Healthy identities are re-checked after the recheck interval; misconfigured
// ones back off from their own interval and inconclusive ones from the (shorter) retry interval,
// both doubling but never beyond the recheck interval, so a fix is seen within one interval.
// Concurrent checks of one identity share one run.
import type { Reason } from './core/reasons.ts';
import type { TokenCheckResult } from './check-token.ts';
import { nextCheckDelay, nextStreak, type SchedulePolicy } from './checks/schedule.ts';

export interface IdentityKey {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly roleArn: string;
  readonly audience: string;
  readonly issuer: string;
}

export interface IdentityHealth {
  readonly key: string;
  readonly id: IdentityKey;
  current: TokenCheckResult | undefined;
  checkedAt: number;
  nextCheckAt: number;
  /** How many checks in a row gave the current verdict (for backoff). */
  streak: number;
  /** The key id of the token last checked: a new signing key means a new check. */
  tokenKid: string | undefined;
}

/** One run of a check: its result, and optionally when to check next (else computed here). */
export interface CheckRun {
  readonly result: TokenCheckResult;
  readonly probedHere: boolean;
  readonly nextCheckAt?: number;
  readonly streak?: number;
}


export function identityKeyString(id: IdentityKey): string {
  return [id.namespace, id.serviceAccount, id.roleArn, id.audience, id.issuer].join('\u0000');
}

export class HealthCache {
  private readonly entries = new Map<string, IdentityHealth>();
  private readonly inflight = new Map<string, Promise<CheckRun>>();
  private readonly capacity: number;
  private readonly policy: SchedulePolicy;
  private readonly random: () => number;
  private readonly onLookup: ((hit: boolean) => void) | undefined;

  constructor(opts: { capacity: number; policy: SchedulePolicy; random?: () => number; onLookup?: (hit: boolean) => void }) {
    this.capacity = opts.capacity;
    this.policy = opts.policy;
    this.random = opts.random ?? Math.random;
    this.onLookup = opts.onLookup;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): IdentityHealth | undefined {
    const e = this.entries.get(key);
    if (e) {
      // most recently used last
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    return e;
  }

  values(): IterableIterator<IdentityHealth> {
    return this.entries.values();
  }

  /** A fresh result, or undefined when the identity is due (or unknown, or its signing key changed). */
  fresh(key: string, tokenKid: string | undefined, now: number): IdentityHealth | undefined {
    const e = this.get(key);
    const hit = e !== undefined && e.current !== undefined && now < e.nextCheckAt && e.tokenKid === tokenKid;
    this.onLookup?.(hit);
    return hit ? e : undefined;
  }

  /**
   * Runs `check` unless one is already running for the key; records the result and the next check
   * (the check may say when, e.g. from the fleet's shared status).
   */
  async check(id: IdentityKey, tokenKid: string | undefined, now: () => number, check: () => Promise<CheckRun>): Promise<{ health: IdentityHealth; ran: boolean; probedHere: boolean }> {
    const key = identityKeyString(id);
    const running = this.inflight.get(key);
    if (running) {
      await running;
      return { health: this.entries.get(key)!, ran: false, probedHere: false };
    }
    const p = check();
    this.inflight.set(key, p);
    try {
      const run = await p;
      const result = run.result;
      const prev = this.entries.get(key);
      const streak = run.streak ?? nextStreak({ reason: prev?.current?.reason, streak: prev?.streak }, result.reason);
      const at = now();
      const health: IdentityHealth = {
        key, id, current: result,
        checkedAt: at, nextCheckAt: run.nextCheckAt ?? at + nextCheckDelay(result.verdict, streak, this.policy, this.random), streak, tokenKid,
      };
      this.entries.delete(key);
      this.entries.set(key, health);
      while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value ?? '');
      return { health, ran: true, probedHere: run.probedHere };
    } finally {
      this.inflight.delete(key);
    }
  }

  /** Forget everything about identities of a ServiceAccount (it changed or went away). */
  forgetServiceAccount(namespace: string, serviceAccount: string): void {
    for (const [k, e] of this.entries) if (e.id.namespace === namespace && e.id.serviceAccount === serviceAccount) this.entries.delete(k);
  }
}

export type { Reason };
