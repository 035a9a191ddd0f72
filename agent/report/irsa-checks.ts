// The IRSAChecks this agent keeps in step: a ServiceAccount seen with a web identity that loses it
// (or is deleted) has its cached health and its IRSACheck removed; IRSAChecks no agent probed for
// --stale-after (their ServiceAccount has no pods left) are collected now and then.
import type { Logger } from 'pino';
import type { ResolvedIdentity } from '../../shared/identity/resolve.ts';
import type { FleetCoordinator } from '../fleet.ts';
import type { HealthCache } from '../health-cache.ts';

export interface IrsaCheckKeeperOptions {
  readonly health: Pick<HealthCache, 'forgetServiceAccount'>;
  readonly fleet: Pick<FleetCoordinator, 'forget' | 'collectGarbage'> | undefined;
  readonly staleAfterMs: number;
  readonly random: () => number;
  readonly logger: Logger;
}

export class IrsaCheckKeeper {
  private readonly opts: IrsaCheckKeeperOptions;
  /** ServiceAccounts seen with a web identity, so losing it removes their IRSACheck. */
  private readonly withIdentity = new Set<string>();
  private gcTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(opts: IrsaCheckKeeperOptions) {
    this.opts = opts;
  }

  has(namespace: string, serviceAccount: string): boolean {
    return this.withIdentity.has(`${namespace}/${serviceAccount}`);
  }

  /** The ServiceAccount now resolves to `identity` (undefined: none, or it is gone). */
  track(namespace: string, serviceAccount: string, identity: ResolvedIdentity | undefined): void {
    const key = `${namespace}/${serviceAccount}`;
    if (identity?.mode === 'web-identity') {
      this.withIdentity.add(key);
    } else if (this.withIdentity.delete(key)) {
      this.opts.health.forgetServiceAccount(namespace, serviceAccount);
      void this.opts.fleet?.forget(namespace, serviceAccount);
    }
  }

  startGarbageCollection(): void {
    if (!this.opts.fleet || this.stopped) return;
    const fleet = this.opts.fleet;
    const { staleAfterMs, logger } = this.opts;
    const delay = (staleAfterMs / 2) * (0.5 + this.opts.random());
    this.gcTimer = setTimeout(() => {
      fleet.collectGarbage(staleAfterMs).then(
        (n) => n > 0 && logger.info({ removed: n }, 'stale IRSAChecks removed'),
        (err: unknown) => logger.warn({ err: (err as Error).message }, 'IRSACheck garbage collection failed'),
      ).finally(() => this.startGarbageCollection());
    }, delay);
    this.gcTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.gcTimer) clearTimeout(this.gcTimer);
  }
}
