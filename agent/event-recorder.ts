// Kubernetes Events (core/v1, what kubectl describe shows) from the agent, through client-node's
// CoreV1Api (it has no recorder). Repeats of the same
// event on the same object bump its count instead of creating new ones; a token bucket per object
// (client-go's: burst 25, then one per 5 min) and a bounded queue with one sender keep a broken
// identity used by many pods from flooding the API server.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { CoreV1Event } from '@kubernetes/client-node';
import { describeKubeError, statusOf, type KubeApi } from '../shared/kube/api.ts';
import { truncateBytes } from './core/messages.ts';

export interface EventObject {
  readonly kind: 'Pod' | 'ServiceAccount';
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export type EventType = 'Normal' | 'Warning';

interface Bucket {
  tokens: number;
  at: number;
}

interface Sent {
  readonly name: string;
  count: number;
  at: number;
}

export interface EventRecorderOptions {
  readonly api: KubeApi;
  readonly nodeName: string;
  readonly logger: Logger;
  readonly onEmitted?: (type: EventType, reason: string) => void;
  readonly onDropped?: (cause: 'rate-limited' | 'queue-full' | 'api-error') => void;
  readonly burst?: number;
  readonly refillMs?: number;
  readonly queueLimit?: number;
}

export const REPORTING_COMPONENT = 'kube-irsa.io/agent';

export class EventRecorder {
  private readonly opts: EventRecorderOptions;
  private readonly buckets = new Map<string, Bucket>();
  private readonly sent = new Map<string, Sent>();
  private queue: Array<() => Promise<void>> = [];
  private sending: Promise<void> | undefined;

  constructor(opts: EventRecorderOptions) {
    this.opts = opts;
  }

  record(obj: EventObject, type: EventType, reason: string, message: string): void {
    const note = truncateBytes(message);
    const objectKey = `${obj.kind}/${obj.namespace}/${obj.name}/${obj.uid ?? ''}`;
    if (!this.take(`${objectKey}/${type}`)) {
      this.opts.onDropped?.('rate-limited');
      return;
    }
    if (this.queue.length >= (this.opts.queueLimit ?? 1000)) {
      this.queue.shift(); // drop the oldest: the newest is the most relevant
      this.opts.onDropped?.('queue-full');
    }
    const dedupeKey = `${objectKey}/${type}/${reason}/${note}`;
    this.queue.push(() => this.send(obj, type, reason, note, dedupeKey));
    this.sending ??= this.drain();
  }

  /** Resolves when everything queued so far was sent (or dropped). */
  async flush(): Promise<void> {
    while (this.sending) await this.sending;
  }

  private take(key: string): boolean {
    const burst = this.opts.burst ?? 25;
    const refillMs = this.opts.refillMs ?? 300_000;
    const now = Date.now();
    const b = this.buckets.get(key) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + (now - b.at) / refillMs);
    b.at = now;
    this.buckets.set(key, b);
    if (this.buckets.size > 4096) this.buckets.delete(this.buckets.keys().next().value ?? '');
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const job = this.queue.shift();
      if (job) await job();
    }
    this.sending = undefined;
  }

  private async send(obj: EventObject, type: EventType, reason: string, note: string, dedupeKey: string): Promise<void> {
    const now = new Date();
    const previous = this.sent.get(dedupeKey);
    // a repeat within the API server's event TTL (1 h by default) updates the existing Event
    if (previous && now.getTime() - previous.at < 3_600_000) {
      try {
        previous.count++;
        previous.at = now.getTime();
        // a JSON patch (client-node's default patch type for this call)
        await this.opts.api.core.patchNamespacedEvent({
          namespace: obj.namespace, name: previous.name,
          body: [{ op: 'replace', path: '/count', value: previous.count }, { op: 'replace', path: '/lastTimestamp', value: now.toISOString() }],
        });
        this.opts.onEmitted?.(type, reason);
        return;
      } catch (err) {
        if (statusOf(err) !== 404) {
          this.opts.logger.warn({ err: describeKubeError(err), reason, object: `${obj.kind}/${obj.namespace}/${obj.name}` }, 'could not update an Event');
          this.opts.onDropped?.('api-error');
          return;
        }
        this.sent.delete(dedupeKey); // expired on the server: create it again
      }
    }
    const name = `${obj.name}.${now.getTime().toString(16)}${randomBytes(3).toString('hex')}`;
    const body: CoreV1Event = {
      metadata: { name, namespace: obj.namespace },
      involvedObject: { apiVersion: 'v1', kind: obj.kind, namespace: obj.namespace, name: obj.name, ...(obj.uid ? { uid: obj.uid } : {}) },
      reason, message: note, type,
      source: { component: 'kube-irsa-agent', host: this.opts.nodeName },
      reportingComponent: REPORTING_COMPONENT,
      reportingInstance: `kube-irsa-agent-${this.opts.nodeName}`.slice(0, 128),
      firstTimestamp: now, lastTimestamp: now, count: 1,
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.opts.api.core.createNamespacedEvent({ namespace: obj.namespace, body });
        this.sent.set(dedupeKey, { name, count: 1, at: now.getTime() });
        if (this.sent.size > 10_000) this.sent.delete(this.sent.keys().next().value ?? '');
        this.opts.onEmitted?.(type, reason);
        return;
      } catch (err) {
        const status = statusOf(err);
        // a terminating or missing namespace will not take events: drop, as client-go does
        if (status === 403 || status === 404 || status === 409 || status === 422 || attempt === 2) {
          this.opts.logger.warn({ err: describeKubeError(err), reason, object: `${obj.kind}/${obj.namespace}/${obj.name}` }, 'could not record an Event');
          this.opts.onDropped?.('api-error');
          return;
        }
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      }
    }
  }
}
