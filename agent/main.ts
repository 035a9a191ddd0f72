// `kube-irsa agent`: wiring only. Flags → config; the agent; its HTTP server; SIGTERM stops both.
import type { Command } from '../shared/cli/command.ts';
import { runService } from '../shared/cli/service.ts';
import { loadKubeApi } from '../shared/kube/api.ts';
import type { Logger } from '../shared/logging.ts';
import { createRegistry } from '../shared/metrics.ts';
import { VERSION } from '../shared/version.ts';
import { Agent, type AgentOptions } from './agent.ts';
import { AGENT_FLAGS, buildAgentConfig, type AgentConfig } from './config.ts';
import { createAgentMetrics } from './metrics.ts';
import { buildAgentApp } from './server.ts';

export interface RunningAgent {
  readonly agent: Agent;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startAgent(config: AgentConfig, logger: Logger, random?: () => number, extra: Pick<AgentOptions, 'awsCredentials'> = {}): Promise<RunningAgent> {
  const api = loadKubeApi(config.kube);
  const registry = createRegistry('agent');
  const metrics = createAgentMetrics(registry, config.nodeName);
  const agent = new Agent({ config, api, logger, metrics, ...(random ? { random } : {}), ...extra });
  const app = buildAgentApp({ registry, logger, healthy: () => agent.isHealthy(), ready: () => agent.isReady() });
  await app.listen({ port: config.port, host: config.bindAddress || '::' });
  const port = (app.server.address() as { port: number }).port;
  await agent.start();
  logger.info({ version: VERSION, node: config.nodeName, port }, 'agent listening');
  return {
    agent, port,
    async stop() {
      await agent.stop();
      await app.close();
      await api.close();
    },
  };
}

export const agentCommand: Command = {
  name: 'agent',
  summary: 'Run the node agent that checks every ServiceAccount\'s AWS identity and reports why it fails',
  run: (argv) => runService({
    name: 'agent',
    description: 'Node agent (DaemonSet): checks the AWS web identity of every pod on its node against STS with powerless probes,\nand reports the reason of each failure as Events, metrics and /metrics, /healthz, /readyz.',
    flags: AGENT_FLAGS,
    configure: ({ values }) => buildAgentConfig(values),
    start: (config, logger) => startAgent(config, logger),
  }, argv),
};
