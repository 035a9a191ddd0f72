// The STS emulator running as its own process inside the real-node cluster's network, driven
// through its test control API (test/sts-emulator/admin.ts) over a bridge.
import type { StateOperation } from '../sts-emulator/admin.ts';
import type { EmulatorFaults, RequestLogEntry } from '../sts-emulator/emulator.ts';
import type { ManagedProcess } from '../cluster/process.ts';

export class RemoteEmulator {
  private readonly base: string;
  constructor(base: string) {
    this.base = base;
  }

  async apply(...operations: readonly StateOperation[]): Promise<void> {
    for (const o of operations) await this.call('POST', 'state', o);
  }

  async setFaults(faults: EmulatorFaults): Promise<void> {
    await this.call('PUT', 'faults', faults);
  }

  async setDisabledRegions(regions: readonly string[]): Promise<void> {
    await this.call('PUT', 'disabled-regions', regions);
  }

  async requests(): Promise<RequestLogEntry[]> {
    return (await this.call('GET', 'requests')) as RequestLogEntry[];
  }

  async waitReady(process: ManagedProcess, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!process.isRunning()) throw new Error(`the STS emulator exited (${String(await process.exited)}); log: ${process.logFile}`);
      if (await this.requests().then(() => true, () => false)) return;
      if (Date.now() > deadline) throw new Error(`the STS emulator did not answer within ${timeoutMs} ms; log: ${process.logFile}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private async call(method: string, route: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.base}/_emulator/${route}`, {
      method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`emulator ${method} ${route}: ${res.status} ${text}`);
    return text === '' ? undefined : JSON.parse(text);
  }
}
