// The version kube-irsa reports (CLI, build-info metrics, User-Agent), from package.json.
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
export const USER_AGENT = `kube-irsa/${VERSION}`;
