import { createServer, type Server } from 'node:http';
import { once } from 'node:events';

/**
 * The demo backend of one sandbox node: answers every HTTP request with `<node name>\n`, so a
 * client sees which node its connection reached.
 */
export interface BackendDeps {
  readonly nodeName: string;
  readonly host: string;
  readonly port: number;
}

/** Listens until `signal` aborts; settles once the server is closed. */
export async function runBackend(deps: BackendDeps, signal: AbortSignal): Promise<void> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${deps.nodeName}\n`);
  });
  server.listen(deps.port, deps.host);
  await once(server, 'listening');
  if (!signal.aborted) await once(signal, 'abort');
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
}
