import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import type * as k8s from '@kubernetes/client-node';
import { AppError } from '../../shared/errors.js';
import { isObject, type JsonObject } from '../apiserver/object.js';

/**
 * A small JSON client for the sandbox's controller stand-ins. client-node's typed clients
 * re-serialise bodies through their models (dropping fields they do not know and requiring
 * Date objects for times); these controllers work on plain wire JSON, as a real controller's
 * unstructured client does, so they speak HTTP directly with the kubeconfig's credentials.
 */
export interface JsonClient {
  /** Sends one request; resolves with the HTTP code and the parsed body (an empty object when none). */
  send(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: JsonObject, contentType?: string): Promise<{ readonly code: number; readonly body: JsonObject }>;
}

/** Raised when a request fails with a status other than the ones the caller expects. */
export class ApiRequestError extends AppError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super('ERR_SANDBOX_API_REQUEST', message);
  }
}

function parse(text: string): JsonObject {
  if (text.trim() === '') return {};
  const value: unknown = JSON.parse(text);
  return isObject(value) ? value : {};
}

/** A client for the kubeconfig's current cluster and user. */
export function createJsonClient(kubeConfig: k8s.KubeConfig): JsonClient {
  const server = new URL(kubeConfig.getCurrentCluster()?.server ?? 'http://127.0.0.1');
  return {
    async send(method, path, body, contentType = 'application/json') {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      // Node sends a DELETE body neither chunked nor with a length unless told: give the length.
      const length = payload === undefined ? {} : { 'content-length': String(Buffer.byteLength(payload)) };
      const options: RequestOptions = { method, hostname: server.hostname, port: server.port, path, headers: { accept: 'application/json', 'content-type': contentType, ...length } };
      await kubeConfig.applyToHTTPSOptions(options);
      return new Promise((resolve, reject) => {
        const send = server.protocol === 'https:' ? httpsRequest : httpRequest;
        const req = send(options, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            try {
              resolve({ code: res.statusCode ?? 0, body: parse(text) });
            } catch (e: unknown) {
              reject(new ApiRequestError(`${method} ${path}: the reply is not JSON (${e instanceof Error ? e.message : String(e)})`, res.statusCode ?? 0));
            }
          });
        });
        req.on('error', reject);
        req.end(payload);
      });
    },
  };
}

/** Sends and throws ApiRequestError unless the code is 2xx or one of `tolerated`. */
export async function sendOk(client: JsonClient, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: JsonObject, contentType?: string, tolerated: readonly number[] = []): Promise<JsonObject> {
  const reply = await client.send(method, path, body, contentType);
  if ((reply.code >= 200 && reply.code < 300) || tolerated.includes(reply.code)) return reply.body;
  const message = typeof reply.body.message === 'string' ? reply.body.message : `HTTP ${String(reply.code)}`;
  throw new ApiRequestError(`${method} ${path}: ${message}`, reply.code);
}
