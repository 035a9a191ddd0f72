// The teardown of an agent scenario (agents, webhook, STS emulator, control plane, the simulated
// kubelet folder), in the order that leaves nothing running behind.
import { rm } from 'node:fs/promises';

interface Stoppable {
  stop(): Promise<void>;
}

export async function stopAgentScenario(parts: {
  agents: ReadonlyArray<{ readonly running: Stoppable }>; hook?: Stoppable; sts?: Stoppable; cp?: Stoppable; kubeletRoot?: string;
}): Promise<void> {
  for (const a of parts.agents) await a.running.stop();
  await parts.hook?.stop();
  await parts.sts?.stop();
  await parts.cp?.stop();
  if (parts.kubeletRoot) await rm(parts.kubeletRoot, { recursive: true, force: true });
}
