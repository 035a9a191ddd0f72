// A token bucket that waits instead of failing: callers queue until a token is free, so a burst
// of new pods turns into a steady trickle of STS calls.
export class RateLimiter {
  private tokens: number;
  private last = Date.now();
  private readonly rate: number;
  private readonly burst: number;
  private queue: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(ratePerSecond: number, burst = ratePerSecond) {
    this.rate = ratePerSecond;
    this.burst = Math.max(1, burst);
    this.tokens = this.burst;
  }

  get waiting(): number {
    return this.queue.length;
  }

  acquire(): Promise<void> {
    return new Promise((resolve) => {
      this.queue.push(resolve);
      this.drain();
    });
  }

  private drain(): void {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    while (this.queue.length > 0 && this.tokens >= 1) {
      this.tokens -= 1;
      this.queue.shift()?.();
    }
    if (this.queue.length > 0 && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.drain();
      }, Math.ceil(((1 - this.tokens) / this.rate) * 1000));
      this.timer.unref();
    }
  }
}
