import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiStatusError } from './status.js';

/** kube-apiserver's request body limit (3 MiB). */
const maxBodyBytes = 3 * 1024 * 1024;

/**
 * Reads a whole request body: the one body reader of the server. Bodies over kube-apiserver's
 * 3 MiB limit are a 413. Decoding by media type is negotiation.ts's job.
 */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > maxBodyBytes) throw new ApiStatusError('RequestEntityTooLarge', 'the request body is too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** Listens on host:port (0 picks a free port) and resolves with the bound port. */
export async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** `http(s)://host:port`, with an IPv6 host in brackets. */
export function serverUrl(tls: boolean, host: string, port: number): string {
  return `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${String(port)}`;
}
