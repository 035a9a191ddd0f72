// The test-only control API of an emulator that runs as its own process (the real-node cluster
// runs it inside the cluster's network, where pods reach it): what in-process tests do through
// the emulator's properties, over JSON. Served only with `--admin`; never part of STS's surface.
//
//   GET  /_emulator/requests                    the request log
//   POST /_emulator/state {op, account, …}       putRole | updateTrustPolicy | deleteRole |
//                                               putOidcProvider | deleteOidcProvider | addAccount |
//                                               putUser (an IAM user's key for the IAM reads)
//   PUT  /_emulator/faults {…}                   replaces the fault settings
//   PUT  /_emulator/disabled-regions ["…"]       replaces the disabled regions
import type http from 'node:http';
import type { EmulatorFaults, StsEmulator } from './emulator.ts';
import type { IamUserSpec, OidcProviderSpec, RoleSpec } from './state.ts';

export const ADMIN_PREFIX = '/_emulator/';
const MAX_ADMIN_BODY = 256 * 1024;

export type StateOperation =
  | { readonly op: 'addAccount'; readonly account: string; readonly partition?: string }
  | { readonly op: 'putRole'; readonly account: string; readonly spec: RoleSpec }
  | { readonly op: 'updateTrustPolicy'; readonly account: string; readonly role: string; readonly policy: unknown }
  | { readonly op: 'deleteRole'; readonly account: string; readonly role: string }
  | { readonly op: 'putOidcProvider'; readonly account: string; readonly spec: OidcProviderSpec }
  | { readonly op: 'deleteOidcProvider'; readonly account: string; readonly url: string }
  | { readonly op: 'putUser'; readonly account: string; readonly spec: IamUserSpec };

export function applyStateOperation(emulator: StsEmulator, o: StateOperation): void {
  const { state } = emulator;
  switch (o.op) {
    case 'addAccount': state.addAccount(o.account, o.partition); return;
    case 'putRole': state.putRole(o.account, o.spec); return;
    case 'updateTrustPolicy': state.updateTrustPolicy(o.account, o.role, o.policy); return;
    case 'deleteRole': state.deleteRole(o.account, o.role); return;
    case 'putOidcProvider': state.putOidcProvider(o.account, o.spec); return;
    case 'deleteOidcProvider': state.deleteOidcProvider(o.account, o.url); return;
    case 'putUser': state.putUser(o.account, o.spec); return;
    default: throw new Error(`unknown operation ${JSON.stringify((o as { op?: unknown }).op)}`);
  }
}

export async function handleAdmin(emulator: StsEmulator, req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
  const reply = (status: number, body?: unknown): void => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  };
  try {
    const route = `${req.method ?? ''} ${url.pathname.slice(ADMIN_PREFIX.length)}`;
    if (route === 'GET requests') return reply(200, emulator.requests);
    const body = await readJson(req);
    switch (route) {
      case 'POST state': applyStateOperation(emulator, body as StateOperation); return reply(204);
      case 'PUT faults': emulator.faults = body as EmulatorFaults; return reply(204);
      case 'PUT disabled-regions':
        emulator.disabledRegions.clear();
        for (const r of body as string[]) emulator.disabledRegions.add(r);
        return reply(204);
      default: return reply(404, { error: `no admin route ${route}` });
    }
  } catch (err) {
    reply(400, { error: (err as Error).message });
  }
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_ADMIN_BODY) throw new Error(`body over ${MAX_ADMIN_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}
