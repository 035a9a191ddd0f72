// One SIGINT/SIGTERM handler for everything a test process starts (control planes, the real-node
// cluster): it stops each registered resource, newest first, and only then exits, so no handler
// exits the process while another resource is still cleaning up.
interface Stoppable {
  stop(): Promise<void>;
}

const registered: Stoppable[] = [];
let installed = false;

/** Stops `resource` if the process gets SIGINT or SIGTERM; the returned function unregisters it. */
export function stopOnSignal(resource: Stoppable): () => void {
  registered.push(resource);
  if (!installed) {
    installed = true;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        void (async () => {
          for (const r of registered.splice(0).reverse()) await r.stop().catch(() => undefined);
          process.exit(signal === 'SIGINT' ? 130 : 143);
        })();
      });
    }
  }
  return () => {
    const i = registered.indexOf(resource);
    if (i >= 0) registered.splice(i, 1);
  };
}
