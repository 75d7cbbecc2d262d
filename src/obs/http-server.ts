import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';

/** What the health endpoints ask: liveness is "the event loop answers", readiness is up to the caller. */
export interface HealthSource {
  /** `undefined` when ready, else the reason it is not (shown in the /readyz body). */
  notReadyReason(): string | undefined;
}

export interface ObsServerDeps {
  readonly registry: Registry;
  readonly health: HealthSource;
  readonly logger: Logger;
  readonly host: string;
  readonly port: number;
}

/** The /healthz, /readyz and /metrics server. `run(signal)` settles once the socket is closed. */
export interface ObsServer {
  run(signal: AbortSignal, onListening?: (port: number) => void): Promise<void>;
}

/** Creates the observability server; nothing listens until `run` is called. */
export function createObsServer(deps: ObsServerDeps): ObsServer {
  const handle = async (url: string): Promise<{ status: number; type: string; body: string }> => {
    const path = url.split('?')[0];
    if (path === '/healthz') return { status: 200, type: 'text/plain', body: 'ok\n' };
    if (path === '/readyz') {
      const reason = deps.health.notReadyReason();
      return reason === undefined
        ? { status: 200, type: 'text/plain', body: 'ok\n' }
        : { status: 503, type: 'text/plain', body: `not ready: ${reason}\n` };
    }
    if (path === '/metrics') return { status: 200, type: deps.registry.contentType, body: await deps.registry.metrics() };
    return { status: 404, type: 'text/plain', body: 'not found\n' };
  };

  return {
    async run(signal, onListening) {
      if (signal.aborted) return;
      const server: Server = createServer((req, res) => {
        handle(req.url ?? '/').then(
          (r) => res.writeHead(r.status, { 'content-type': r.type }).end(r.body),
          (e: unknown) => {
            deps.logger.error({ err: e, event: 'metricsFailed' }, 'serving metrics failed');
            res.writeHead(500).end();
          },
        );
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(deps.port, deps.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const port = (server.address() as AddressInfo).port;
      deps.logger.info({ event: 'obsListening', port }, 'serving /healthz /readyz /metrics');
      onListening?.(port);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          server.close(() => {
            resolve();
          });
          server.closeAllConnections();
        };
        if (signal.aborted) stop();
        else signal.addEventListener('abort', stop, { once: true });
      });
    },
  };
}
