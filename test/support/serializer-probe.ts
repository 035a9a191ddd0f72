// An extra entry point for test bundles: client-node's generated ObjectSerializer as the bundle holds
// it (pruned by scripts/prune-client-models.ts), to compare with the one in node_modules.
export { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
