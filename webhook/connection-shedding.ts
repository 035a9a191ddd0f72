// Moves keep-alive clients off a busy thread: its next few answers carry `Connection: close`, the
// clients reconnect, and the kernel (SO_REUSEPORT) spreads the new connections over every thread
// listening on the port. Without it a thread started under load (thread-scaling.ts) would serve
// only clients that connect later, and API servers keep their connections to a webhook open.
import type { Server, Socket } from 'node:net';

export class ConnectionShedding {
  /** Connections open on this thread's admission server. */
  private openCount = 0;
  /** Answers still to be sent with `Connection: close`. */
  private budget = 0;

  get open(): number {
    return this.openCount;
  }

  /** Close `count` connections after their next answer (replaces what was asked before). */
  shed(count: number): void {
    this.budget = Math.max(0, Math.floor(count));
  }

  /** Counts the connections of `server` (its admission server). */
  count(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.openCount++;
      socket.once('close', () => this.openCount--);
    });
  }

  /** Whether the answer being sent should close its connection (one of those asked for). */
  takeClose(): boolean {
    if (this.budget === 0) return false;
    this.budget--;
    return true;
  }
}
