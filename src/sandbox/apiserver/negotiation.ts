import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { JsonObject } from './object.js';
import { ApiStatusError, statusBody } from './status.js';

/**
 * Content negotiation: the one place where request bodies are decoded by their `Content-Type` and
 * responses encoded for the client's `Accept`, as kube-apiserver's negotiated serializers do
 * (k8s.io/apimachinery/pkg/runtime/serializer). Every handler works on plain JSON objects; media
 * types live here only.
 */

/** How responses are written for one client: plain objects, and watch events as the stream frames them. */
export interface ResponseEncoding {
  /** The response's `Content-Type`. */
  readonly contentType: string;
  /** One whole response body. */
  encode(body: JsonObject): string | Buffer;
  /** One watch event (`{type, object}`) as a frame of the watch stream. */
  watchFrame(event: JsonObject): string | Buffer;
}

const jsonEncoding: ResponseEncoding = {
  contentType: 'application/json',
  encode: (body) => JSON.stringify(body),
  // kube-apiserver streams JSON watch events as one JSON document per line.
  watchFrame: (event) => `${JSON.stringify(event)}\n`,
};

/** The encoding of responses for a request's `Accept` header. */
export function responseEncoding(_accept: string | undefined): ResponseEncoding {
  return jsonEncoding;
}

/** Whether a body may be empty (DELETE's DeleteOptions) or must be present. */
export type BodyPresence = 'required' | 'optional';

/**
 * Decodes a request body by its `Content-Type`. The patch media types carry JSON; their patch
 * semantics are patch.ts's. An empty optional body decodes to undefined.
 */
export function decodeBody(_contentType: string | undefined, body: Buffer, presence: BodyPresence): unknown {
  const text = body.toString('utf8');
  if (presence === 'optional' && text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (e: unknown) {
    const detail = presence === 'required' ? `: ${e instanceof Error ? e.message : String(e)}` : '';
    throw new ApiStatusError('BadRequest', `the request body is not valid JSON${detail}`);
  }
}

/** Writes one response body in the negotiated encoding. */
export function sendObject(res: ServerResponse, code: number, body: JsonObject, encoding: ResponseEncoding): void {
  res.writeHead(code, { 'content-type': encoding.contentType }).end(encoding.encode(body));
}

/** Writes a failed request as a metav1.Status in the negotiated encoding; a 500 for anything but an ApiStatusError. */
export function sendError(res: ServerResponse, e: unknown, encoding: ResponseEncoding, logger: Logger | undefined): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (e instanceof ApiStatusError) {
    const headers: Record<string, string> = { 'content-type': encoding.contentType };
    if (e.code === 429) headers['retry-after'] = '1';
    res.writeHead(e.code, headers).end(encoding.encode(e.toStatus()));
    return;
  }
  logger?.error({ event: 'apiServerError', err: e }, 'sandbox API server: request failed');
  sendObject(res, 500, statusBody('InternalError', e instanceof Error ? e.message : String(e)), encoding);
}
