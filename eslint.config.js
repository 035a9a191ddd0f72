// Lint: typescript-eslint's type-aware rules, with the two that catch unhandled promises in servers
// and watches, import boundaries between the components, and no raw HTTP to the API server.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const SHARED_BOUNDARY = { group: ['**/agent/**', '**/webhook/**', '**/test/**'], message: 'shared/ must not depend on a component.' };
const WEBHOOK_BOUNDARY = { group: ['**/agent/**', '**/test/**'], message: 'the webhook must not depend on the agent or on tests.' };
const AGENT_BOUNDARY = { group: ['**/webhook/**', '**/test/**'], message: 'the agent must not depend on the webhook (share through shared/) or on tests.' };
// Product code reaches the API server through @kubernetes/client-node (shared/kube/api.ts: its
// KubeConfig, typed APIs and Watch), never with requests of its own.
const RAW_HTTP = {
  group: ['node:http', 'node:https', 'http', 'https', 'node:http2', 'undici', 'hpagent'], allowTypeImports: true,
  message: 'the API server is reached through @kubernetes/client-node (shared/kube/api.ts), not raw HTTP.',
};
const RAW_FETCH = { name: 'fetch', message: 'the API server is reached through @kubernetes/client-node (shared/kube/api.ts), not fetch.' };
/** The modules that talk to the API server. */
const KUBE_FACING = [
  'shared/kube/**/*.ts', 'shared/identity/**/*.ts',
  'webhook/main.ts',
  'agent/main.ts', 'agent/agent.ts', 'agent/watch/**/*.ts', 'agent/fleet.ts', 'agent/irsa-check-api.ts', 'agent/event-recorder.ts',
  'agent/token-source.ts', 'agent/doctor-command.ts', 'agent/cleanup-command.ts',
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'deploy/**', 'bench/results/**', 'test/cluster/go/**', 'build/**', 'tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's describe/test return promises the runner itself awaits
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'test', 'it', 'suite', 'before', 'after'] }],
      }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['shared/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [SHARED_BOUNDARY] }] },
  },
  {
    files: ['webhook/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [WEBHOOK_BOUNDARY] }] },
  },
  {
    files: ['agent/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [AGENT_BOUNDARY] }] },
  },
  // the modules that talk to the API server do it through client-node only (shared/kube/api.ts)
  {
    files: KUBE_FACING.filter((f) => f.startsWith('shared/')),
    rules: { 'no-restricted-imports': ['error', { patterns: [SHARED_BOUNDARY, RAW_HTTP] }], 'no-restricted-globals': ['error', RAW_FETCH] },
  },
  {
    files: KUBE_FACING.filter((f) => f.startsWith('webhook/')),
    rules: { 'no-restricted-imports': ['error', { patterns: [WEBHOOK_BOUNDARY, RAW_HTTP] }], 'no-restricted-globals': ['error', RAW_FETCH] },
  },
  {
    files: KUBE_FACING.filter((f) => f.startsWith('agent/')),
    rules: { 'no-restricted-imports': ['error', { patterns: [AGENT_BOUNDARY, RAW_HTTP] }], 'no-restricted-globals': ['error', RAW_FETCH] },
  },
  {
    // the agent's decisions stay pure: facts in, decisions out; watches and the API client are the
    // wiring's business (agent.ts), so checks/ and report/ are unit-tested with fakes
    files: ['agent/checks/**/*.ts', 'agent/report/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        AGENT_BOUNDARY,
        { group: ['**/shared/kube/**', '**/agent/watch/**', '**/agent/agent.ts', 'node:fs', 'node:fs/promises', 'node:http', 'node:https'], allowTypeImports: true, message: 'agent/checks and agent/report decide; I/O is injected (see docs/architecture.md).' },
      ] }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
);
