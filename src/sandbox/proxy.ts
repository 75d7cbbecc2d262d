import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { AppError } from '../shared/errors.js';
import { listenerKey, type DesiredRouting, type ProxyListener, type ProxyTarget } from './service-routing.js';

const run = promisify(execFile);

/** `kube-ipvs0` when the LAN could make it, else `lo` (kernels without the dummy module). */
export function serviceInterfaceName(exists: (iface: string) => boolean): string {
  return exists('kube-ipvs0') ? 'kube-ipvs0' : 'lo';
}

/** The OS side of the stand-in: addresses on the dummy interface. A port so tests could fake it. */
export interface ServiceAddressPort {
  add(ip: string): Promise<void>;
  remove(ip: string): Promise<void>;
}

/** Adds /32 and /128 addresses to a dummy interface with `ip` (IPv6 with nodad: no DAD delay). */
export function dummyInterfaceAddresses(iface: string): ServiceAddressPort {
  const ipCmd = async (args: readonly string[]): Promise<void> => {
    try {
      await run('ip', [...args]);
    } catch (e: unknown) {
      const stderr = (e as { stderr?: unknown }).stderr;
      throw new AppError('ERR_PROXY_ADDR', `ip ${args.join(' ')}: ${typeof stderr === 'string' ? stderr.trim() : String(e)}`, { cause: e });
    }
  };
  const cidr = (ip: string): string => (ip.includes(':') ? `${ip}/128` : `${ip}/32`);
  return {
    add: (ip) => ipCmd(['addr', 'replace', cidr(ip), 'dev', iface, ...(ip.includes(':') ? ['nodad'] : [])]),
    remove: (ip) => ipCmd(['addr', 'del', cidr(ip), 'dev', iface]).catch(() => undefined),
  };
}

interface LiveListener {
  readonly server: Server;
  /** Mutable so changed endpoints do not need a new listener. */
  targets: ProxyTarget;
  /** Connections so far: the next one goes to targets[next % length] (round robin). */
  next: number;
  readonly sockets: Set<Socket>;
}

/** The kube-proxy stand-in's data plane: holds the addresses and TCP listeners of the last applied state. */
export interface ServiceProxy {
  /** Moves addresses and listeners to `desired`; a listener that fails to bind is logged and retried on the next apply. */
  apply(desired: DesiredRouting): Promise<void>;
  /** Closes every listener and removes every address it added. Idempotent. */
  close(): Promise<void>;
}

function pipe(client: Socket, live: LiveListener): void {
  const { sockets } = live;
  const target = live.targets[live.next % Math.max(1, live.targets.length)];
  live.next += 1;
  if (target === undefined) {
    client.destroy();
    return;
  }
  const upstream = connect(target.port, target.host);
  sockets.add(client);
  sockets.add(upstream);
  const done = (): void => {
    client.destroy();
    upstream.destroy();
    sockets.delete(client);
    sockets.delete(upstream);
  };
  client.on('error', done).on('close', done);
  upstream.on('error', done).on('close', done);
  client.pipe(upstream);
  upstream.pipe(client);
}

async function listen(l: ProxyListener): Promise<LiveListener> {
  const live: LiveListener = { server: createServer(), targets: l.targets, next: 0, sockets: new Set() };
  live.server.on('connection', (socket: Socket) => { pipe(socket, live); });
  live.server.listen(l.port, l.ip);
  await once(live.server, 'listening');
  return live;
}

async function closeListener(live: LiveListener): Promise<void> {
  for (const s of live.sockets) s.destroy();
  await new Promise<void>((resolve) => live.server.close(() => { resolve(); }));
}

/** Creates the proxy; nothing is bound until the first `apply`. */
export function createServiceProxy(deps: { readonly addresses: ServiceAddressPort; readonly logger: Logger }): ServiceProxy {
  const ips = new Set<string>();
  const listeners = new Map<string, LiveListener>(); // listenerKey -> live listener
  const log = deps.logger.child({ component: 'sandbox-proxy' });

  async function openListener(key: string, l: ProxyListener): Promise<void> {
    try {
      listeners.set(key, await listen(l));
      log.info({ event: 'listenerOpened', listener: key, targets: l.targets.map((t) => `${t.host}:${String(t.port)}`) }, 'forwarding service port');
    } catch (e: unknown) {
      log.warn({ event: 'listenerFailed', listener: key, err: e }, 'cannot listen on service port');
    }
  }

  return {
    async apply(desired) {
      const wanted = new Map(desired.listeners.map((l) => [listenerKey(l), l]));
      for (const [key, live] of listeners) {
        if (wanted.has(key)) continue;
        listeners.delete(key);
        await closeListener(live);
      }
      const wantedIps = new Set(desired.serviceIps);
      for (const ip of ips) {
        if (wantedIps.has(ip)) continue;
        ips.delete(ip);
        await deps.addresses.remove(ip);
      }
      for (const ip of wantedIps) {
        if (ips.has(ip)) continue;
        await deps.addresses.add(ip);
        ips.add(ip);
      }
      for (const [key, l] of wanted) {
        const live = listeners.get(key);
        if (live === undefined) await openListener(key, l);
        else live.targets = l.targets;
      }
    },
    async close() {
      await this.apply({ serviceIps: [], listeners: [] });
    },
  };
}
