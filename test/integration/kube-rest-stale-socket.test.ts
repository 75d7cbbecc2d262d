import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createKubeRest, KubeApiError, type KubeRest } from '../../src/k8s/kube-rest.js';

/**
 * A server closing a kept-alive connection just as the client sends its next request on it:
 * the client sees ECONNRESET ("socket hang up") on a reused socket, with no answer. Under load
 * this hit the speaker's Lease writes, reaps and watch restarts every few seconds (the sandbox
 * API server closes idle sockets after Node's 5 s keepAliveTimeout).
 */
describe('the speaker\'s Kubernetes client and a server that drops idle kept-alive sockets', () => {
  let server: Server | undefined;
  afterEach(async () => {
    const s = server;
    server = undefined;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise((r) => { s.close(r); });
  });

  /** A server that drops the connection instead of answering the `dropOnSocketRequest`-th request on any one connection (1-based). */
  async function start(dropOnSocketRequest: number): Promise<{ rest: KubeRest; requests: { method: string; socketRequest: number }[] }> {
    const requests: { method: string; socketRequest: number }[] = [];
    // socket -> requests seen on it
    const served = new Map<Socket, number>();
    server = createServer((req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      requests.push({ method: req.method ?? '', socketRequest: n });
      req.resume();
      req.on('end', () => {
        if (n === dropOnSocketRequest) {
          req.socket.destroy();
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ kind: 'Lease', metadata: { name: 'x', resourceVersion: String(requests.length) } }));
      });
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const rest = createKubeRest({ server: `http://127.0.0.1:${String(port)}`, tls: { rejectUnauthorized: true }, token: () => 'token' });
    return { rest, requests };
  }

  it.each([
    { name: 'GET', method: 'GET' as const },
    { name: 'PUT (a Lease renewal or a reap, guarded by its resourceVersion)', method: 'PUT' as const },
  ])('sends a $name again on a new connection when the kept-alive one was dropped', async ({ method }) => {
    const { rest, requests } = await start(2);
    await rest.request('GET', '/apis/coordination.k8s.io/v1/namespaces/ns/leases/x');
    const answer = await rest.request<{ metadata: { resourceVersion: string } }>(method, '/apis/coordination.k8s.io/v1/namespaces/ns/leases/x', method === 'PUT' ? { metadata: { name: 'x' } } : undefined);
    expect(answer.metadata.resourceVersion).toBe('3');
    expect(requests.map((r) => `${r.method}#${String(r.socketRequest)}`)).toEqual(['GET#1', `${method}#2`, `${method}#1`]);
  });

  it('does not send again when a fresh connection fails: that is not a stale socket', async () => {
    const { rest, requests } = await start(1);
    const failed = await rest.request('GET', '/api/v1/nodes').then(() => undefined, (e: unknown) => e);
    expect(failed).toBeInstanceOf(KubeApiError);
    expect((failed as KubeApiError).status).toBe(0);
    expect(requests).toHaveLength(1);
  });
});
