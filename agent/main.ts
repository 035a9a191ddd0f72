// `kube-irsa agent`: wiring only. Flags → config; the agent; its HTTP server; SIGTERM stops both.
import { parseCommandLine, type Command } from '../shared/cli/command.ts';
import { loadKubeConfig } from '../shared/kube/client.ts';
import { createLogger, type Logger } from '../shared/logging.ts';
import { createRegistry } from '../shared/metrics.ts';
import { VERSION } from '../shared/version.ts';
import { Agent } from './agent.ts';
import { AGENT_FLAGS, AgentConfigError, buildAgentConfig, type AgentConfig } from './config.ts';
import { createAgentMetrics } from './metrics.ts';
import { buildAgentApp } from './server.ts';

export interface RunningAgent {
  readonly agent: Agent;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startAgent(config: AgentConfig, logger: Logger, random?: () => number): Promise<RunningAgent> {
  const kubeConfig = loadKubeConfig({ kubeconfig: config.kubeconfig || undefined, kubeApi: config.kubeApi || undefined });
  const registry = createRegistry('agent');
  const metrics = createAgentMetrics(registry, config.nodeName);
  const agent = new Agent({ config, kubeConfig, logger, metrics, ...(random ? { random } : {}) });
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
    },
  };
}

export const agentCommand: Command = {
  name: 'agent',
  summary: 'Run the node agent that checks every ServiceAccount\'s AWS identity and reports why it fails',
  async run(argv) {
    const parsed = parseCommandLine({
      name: 'agent', usage: 'agent [flags]',
      description: 'Node agent (DaemonSet): checks the AWS web identity of every pod on its node against STS with powerless probes,\nand reports the reason of each failure as Events, metrics and /metrics, /healthz, /readyz.',
    }, AGENT_FLAGS, argv);
    if (typeof parsed === 'number') return parsed;
    let built;
    try {
      built = buildAgentConfig(parsed.values);
    } catch (err) {
      if (err instanceof AgentConfigError) {
        process.stderr.write(err.problems.map((p) => `kube-irsa agent: ${p}\n`).join(''));
        return 1;
      }
      throw err;
    }
    const logger = createLogger({ component: 'agent', level: built.config.logLevel });
    for (const n of built.notices) logger.warn(n);
    let running: RunningAgent;
    try {
      running = await startAgent(built.config, logger);
    } catch (err) {
      process.stderr.write(`kube-irsa agent: ${(err as Error).message}\n`);
      return 1;
    }
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    logger.info({ signal }, 'agent shutting down');
    await running.stop();
    return 0;
  },
};
