// Lint: typescript-eslint's type-aware rules, with the two that catch unhandled promises in servers
// and watches, and import boundaries between the components.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/agent/**', '**/webhook/**', '**/test/**'], message: 'shared/ must not depend on a component.' },
        { group: ['@kubernetes/client-node'], message: 'product code talks to the API server through shared/kube/client.ts (client-node costs ~60 MiB per process; tests only).' },
      ] }],
    },
  },
  {
    files: ['webhook/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/agent/**', '**/test/**'], message: 'the webhook must not depend on the agent or on tests.' },
        { group: ['@kubernetes/client-node'], message: 'product code talks to the API server through shared/kube/client.ts (client-node costs ~60 MiB per process; tests only).' },
      ] }],
    },
  },
  {
    files: ['agent/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/webhook/**', '**/test/**'], message: 'the agent must not depend on the webhook (share through shared/) or on tests.' },
        { group: ['@kubernetes/client-node'], message: 'product code talks to the API server through shared/kube/client.ts (client-node costs ~60 MiB per process; tests only).' },
      ] }],
    },
  },
  {
    // the agent's decisions stay pure: facts in, decisions out; watches and the API client are the
    // wiring's business (agent.ts), so checks/ and report/ are unit-tested with fakes
    files: ['agent/checks/**/*.ts', 'agent/report/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/webhook/**', '**/test/**'], message: 'the agent must not depend on the webhook (share through shared/) or on tests.' },
        { group: ['@kubernetes/client-node'], message: 'product code talks to the API server through shared/kube/client.ts (client-node costs ~60 MiB per process; tests only).' },
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
