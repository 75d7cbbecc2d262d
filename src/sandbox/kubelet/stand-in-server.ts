import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * The stand-in web server: what every container whose image the sandbox cannot run becomes
 * (docs/sandbox.md). It listens on each declared TCP containerPort (80 when none) on every
 * address of the Pod's namespace and answers `GET` with `<pod> on <node>\n`, writing one access
 * log line per request to its stdout (the container log). For showing probes, `GET /standin/fail`
 * makes `/healthz` answer 500 from then on and `GET /standin/ok` undoes it; every other path keeps
 * answering 200.
 */
export interface StandInServerDeps {
  readonly pod: string;
  readonly node: string;
  /** Ports to listen on; empty means 80. */
  readonly ports: readonly number[];
  /** How long to keep serving after SIGTERM, as an application that drains does (0: close at once). */
  readonly drainMs?: number;
  /** Where access log lines go (the process's stdout). */
  readonly write: (line: string) => void;
  readonly now: () => Date;
}

/** The reply body: the Pod and node name. */
export function standInBody(pod: string, node: string): string {
  return `${pod} on ${node}\n`;
}

/** One access log line, nginx "combined" style. */
function accessLine(req: IncomingMessage, status: number, bytes: number, now: Date): string {
  const agent = req.headers['user-agent'] ?? '-';
  const from = (req.socket.remoteAddress ?? '-').replace(/^::ffff:/, '');
  return `${from} - - [${now.toISOString()}] "${req.method ?? ''} ${req.url ?? ''} HTTP/${req.httpVersion}" ${status} ${bytes} "-" "${agent}"\n`;
}

/** Listens until `signal` aborts (SIGTERM) and `drainMs` more; settles once every listener is closed. */
export async function runStandInServer(deps: StandInServerDeps, signal: AbortSignal): Promise<void> {
  let healthy = true;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/standin/fail') healthy = false;
    if (path === '/standin/ok') healthy = true;
    const status = path === '/healthz' && !healthy ? 500 : 200;
    const body = status === 200 ? standInBody(deps.pod, deps.node) : 'unhealthy\n';
    res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    deps.write(accessLine(req, status, Buffer.byteLength(body), deps.now()));
  };
  const ports = deps.ports.length === 0 ? [80] : [...new Set(deps.ports)];
  const servers: Server[] = [];
  try {
    for (const port of ports) {
      const server = createServer(handle);
      servers.push(server);
      // `::` accepts IPv4 too (dual-stack socket) and works in a namespace with only IPv4.
      server.listen({ port, host: '::', ipv6Only: false });
      await once(server, 'listening');
      deps.write(`stand-in web server for pod ${deps.pod} on node ${deps.node}: listening on port ${port}\n`);
    }
    if (!signal.aborted) await once(signal, 'abort');
    const drainMs = deps.drainMs ?? 0;
    if (drainMs > 0) {
      deps.write(`stand-in web server: SIGTERM, serving ${String(drainMs / 1000)} s more before stopping\n`);
      await new Promise((resolve) => setTimeout(resolve, drainMs));
    }
    deps.write('stand-in web server: stopping\n');
  } finally {
    for (const server of servers) server.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => { resolve(); }))));
  }
}
