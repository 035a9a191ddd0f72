// The proxy for the API server from the environment, as kubectl (Go's net/http) chooses it:
// HTTPS_PROXY for https servers, HTTP_PROXY for http ones (upper or lower case), except for hosts
// NO_PROXY names and for localhost and loopback addresses, which Go never proxies. client-node
// honours only a kubeconfig's proxy-url, so this fills that field when the kubeconfig has none.
import { BlockList, isIP } from 'node:net';

function firstSet(env: NodeJS.ProcessEnv, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

/** Whether one NO_PROXY entry (`*`, a host, `.domain`, an IP, a CIDR, each with an optional port) covers host:port. */
function covers(entry: string, host: string, port: string): boolean {
  if (entry === '*') return true;
  if (entry.includes('/')) {
    const [net = '', bits = ''] = entry.split('/');
    const family = isIP(net);
    const ipFamily = isIP(host);
    if (family === 0 || ipFamily === 0) return false;
    const list = new BlockList();
    try {
      list.addSubnet(net, Number(bits), family === 6 ? 'ipv6' : 'ipv4');
    } catch {
      return false;
    }
    return list.check(host, ipFamily === 6 ? 'ipv6' : 'ipv4');
  }
  let name = entry;
  const portMatch = /^(.*):(\d+)$/.exec(entry);
  if (portMatch && !entry.startsWith('[') && isIP(entry) !== 6) {
    if (portMatch[2] !== port) return false;
    name = portMatch[1] ?? '';
  }
  name = name.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (isIP(name)) return name === host;
  const domain = name.replace(/^\*?\./, '');
  return host === domain || host.endsWith(`.${domain}`);
}

/** The proxy URL kubectl would use to reach `server`, or undefined for a direct connection. */
export function proxyForServer(server: string, env: NodeJS.ProcessEnv): string | undefined {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return undefined;
  }
  const proxy = url.protocol === 'https:' ? firstSet(env, 'HTTPS_PROXY', 'https_proxy') : firstSet(env, 'HTTP_PROXY', 'http_proxy');
  if (!proxy) return undefined;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  if (host === 'localhost' || host.endsWith('.localhost')) return undefined;
  if (isIP(host) === 4 && host.startsWith('127.')) return undefined;
  if (isIP(host) === 6 && (host === '::1' || host === '0:0:0:0:0:0:0:1')) return undefined;
  const noProxy = (firstSet(env, 'NO_PROXY', 'no_proxy') ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (noProxy.some((e) => covers(e, host, port))) return undefined;
  // Go accepts a proxy without a scheme as http://
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(proxy) ? proxy : `http://${proxy}`;
}
