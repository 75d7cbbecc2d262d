import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import type { JsonObject } from './object.js';
import { ProtobufDecodeError, type ProtobufCodec } from './protobuf/codec.js';
import { ApiStatusError, statusBody } from './status.js';

/**
 * Content negotiation: the one place where request bodies are decoded by their `Content-Type` and
 * responses encoded for the client's `Accept`, as kube-apiserver's negotiated serializers do
 * (k8s.io/apimachinery/pkg/runtime/serializer). Every handler works on plain JSON objects; media
 * types live here only.
 */

/** kube-apiserver's protobuf media type (k8s.io/apimachinery runtime.ContentTypeProtobuf). */
export const protobufMediaType = 'application/vnd.kubernetes.protobuf';

/** One encoded body and its `Content-Type`. */
export interface Encoded {
  readonly contentType: string;
  readonly data: string | Uint8Array;
}

/** How responses are written for one client. */
export interface ResponseEncoding {
  /** One whole response body. */
  encode(body: JsonObject): Encoded;
}

/** How a watch stream is written: its `Content-Type` and one frame per event (`{type, object}`). */
export interface WatchEncoding {
  readonly contentType: string;
  frame(event: JsonObject): string | Uint8Array;
}

/** Whether a body may be empty (DELETE's DeleteOptions) or must be present. */
export type BodyPresence = 'required' | 'optional';

/** Negotiates media types for requests and responses. */
export interface Negotiator {
  /** The encoding of responses for a request's `Accept` header. */
  responseEncoding(accept: string | undefined): ResponseEncoding;
  /** The encoding of a watch stream of objects of this apiVersion and kind. */
  watchEncoding(accept: string | undefined, apiVersion: string, kind: string): WatchEncoding;
  /**
   * Decodes a request body by its `Content-Type`: protobuf, or JSON (also the patch media types,
   * whose patch semantics are patch.ts's). An empty optional body decodes to undefined.
   */
  decodeBody(contentType: string | undefined, body: Buffer, presence: BodyPresence): unknown;
}

const jsonResponses: ResponseEncoding = {
  encode: (body) => ({ contentType: 'application/json', data: JSON.stringify(body) }),
};

// kube-apiserver streams JSON watch events as one JSON document per line.
const jsonWatch: WatchEncoding = { contentType: 'application/json', frame: (event) => `${JSON.stringify(event)}\n` };

/** Builds the negotiator of a server over its protobuf codec. */
export function createNegotiator(codec: ProtobufCodec): Negotiator {
  const protobufResponses: ResponseEncoding = {
    encode(body) {
      const data = codec.encodeObject(body);
      // Kinds without a message (Tables, discovery documents) stay JSON, which clients also accept.
      return data === undefined ? jsonResponses.encode(body) : { contentType: protobufMediaType, data };
    },
  };
  const protobufWatch: WatchEncoding = { contentType: `${protobufMediaType};stream=watch`, frame: (event) => codec.watchFrame(event) };
  return {
    responseEncoding: (accept) => (prefersProtobuf(accept) ? protobufResponses : jsonResponses),
    watchEncoding: (accept, apiVersion, kind) => (prefersProtobuf(accept) && codec.knows(apiVersion, kind) ? protobufWatch : jsonWatch),
    decodeBody(contentType, body, presence) {
      if (presence === 'optional' && body.toString('utf8').trim() === '') return undefined;
      if (mediaTypeOf(contentType) === protobufMediaType) return decodeProtobuf(codec, body);
      if (mediaTypeOf(contentType) === 'application/apply-patch+yaml') return decodeYaml(body.toString('utf8'));
      return decodeJson(body, presence);
    },
  };
}

/** `application/json; charset=utf-8` -> `application/json`. */
function mediaTypeOf(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * Whether the first media type of `Accept` that the server can produce is protobuf. Clients list
 * their preference in order (client-go: `application/vnd.kubernetes.protobuf,application/json`);
 * a Table request (`as=Table`) is answered in JSON.
 */
function prefersProtobuf(accept: string | undefined): boolean {
  for (const range of (accept ?? '').split(',')) {
    const [type = '', ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    if (params.some((p) => p.startsWith('as='))) return false;
    if (type === protobufMediaType) return true;
    if (type === 'application/json' || type === '*/*' || type === 'application/*') return false;
  }
  return false;
}

function decodeProtobuf(codec: ProtobufCodec, body: Buffer): unknown {
  try {
    return codec.decodeObject(body);
  } catch (e: unknown) {
    if (e instanceof ProtobufDecodeError) throw new ApiStatusError('BadRequest', `the request body is not valid protobuf: ${e.message}`);
    throw e;
  }
}

function decodeJson(body: Buffer, presence: BodyPresence): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e: unknown) {
    const detail = presence === 'required' ? `: ${e instanceof Error ? e.message : String(e)}` : '';
    throw new ApiStatusError('BadRequest', `the request body is not valid JSON${detail}`);
  }
}

/** Writes one response body in the negotiated encoding. */
export function sendObject(res: ServerResponse, code: number, body: JsonObject, encoding: ResponseEncoding, headers: Readonly<Record<string, string>> = {}): void {
  const { contentType, data } = encoding.encode(body);
  res.writeHead(code, { ...headers, 'content-type': contentType }).end(data);
}

/** Writes a failed request as a metav1.Status in the negotiated encoding; a 500 for anything but an ApiStatusError. */
export function sendError(res: ServerResponse, e: unknown, encoding: ResponseEncoding, logger: Logger | undefined): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (e instanceof ApiStatusError) {
    sendObject(res, e.code, e.toStatus(), encoding, e.code === 429 ? { 'retry-after': '1' } : {});
    return;
  }
  logger?.error({ event: 'apiServerError', err: e }, 'sandbox API server: request failed');
  sendObject(res, 500, statusBody('InternalError', e instanceof Error ? e.message : String(e)), encoding);
}

/** A server-side apply body: YAML (JSON being YAML too), as kube-apiserver reads `application/apply-patch+yaml`. */
function decodeYaml(text: string): unknown {
  try {
    return parseYaml(text) as unknown;
  } catch (e: unknown) {
    throw new ApiStatusError('BadRequest', `error decoding YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
}
