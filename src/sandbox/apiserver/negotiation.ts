import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { err, ok, type Result } from '../../shared/result.js';
import type { JsonObject } from './object.js';
import type { PatchType } from './patch.js';
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

/**
 * The media types kube-apiserver reads and writes objects in, in the order of its codec factory
 * (k8s.io/apimachinery serializer.CodecFactory: JSON, YAML, protobuf; CBOR is behind the
 * CBORServingAndStorage feature gate, off by default). The first is the default.
 */
export const servedMediaTypes = ['application/json', 'application/yaml', protobufMediaType] as const;

/** One of the media types objects are served in. */
export type ServedMediaType = (typeof servedMediaTypes)[number];

/** Those with a stream serializer, as a watch names them (YAML has none). */
const streamMediaTypes: readonly string[] = ['application/json;stream=watch', `${protobufMediaType};stream=watch`];

/** One encoded body and its `Content-Type`. */
export interface Encoded {
  readonly contentType: string;
  readonly data: string | Uint8Array;
}

/** How responses are written for one client. */
export interface ResponseEncoding {
  readonly mediaType: ServedMediaType;
  /** The client asked for a meta.k8s.io Table (`as=Table;g=meta.k8s.io;v=v1`) in the clause that won. */
  readonly table: boolean;
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
  /**
   * The encoding of responses for a request's `Accept`, as kube-apiserver's
   * NegotiateOutputMediaType chooses it; a 406 NotAcceptable when nothing served is acceptable.
   */
  negotiate(accept: string | undefined): Result<ResponseEncoding, ApiStatusError>;
  /** JSON, for what is not negotiated (and errors when negotiation failed, as kube-apiserver writes them). */
  readonly json: ResponseEncoding;
  /** The encoding of a watch stream (NegotiateOutputMediaTypeStream); a 406 when it has no stream form. */
  watchEncoding(accept: string | undefined): WatchEncoding;
  /**
   * Decodes an object body (create, update, DeleteOptions) by its `Content-Type`: JSON (also when
   * absent), YAML or protobuf, else 415. An empty optional body decodes to undefined.
   */
  decodeBody(contentType: string | undefined, body: Buffer, presence: BodyPresence): unknown;
  /** Decodes a patch body of a type patch.ts read: JSON, or YAML for server-side apply. */
  decodePatch(type: PatchType, body: Buffer): unknown;
}

// kube-apiserver streams JSON watch events as one JSON document per line.
const jsonWatch: WatchEncoding = { contentType: 'application/json', frame: (event) => `${JSON.stringify(event)}\n` };

/** What the server can do beyond encoding objects. */
export interface NegotiatorOptions {
  /** Whether `as=Table` can be served (a Table renderer is configured). */
  readonly tables: boolean;
}

/** Builds the negotiator of a server over its protobuf codec. */
export function createNegotiator(codec: ProtobufCodec, options: NegotiatorOptions = { tables: true }): Negotiator {
  const encoders: Readonly<Record<ServedMediaType, (body: JsonObject) => Encoded>> = {
    'application/json': (body) => ({ contentType: 'application/json', data: JSON.stringify(body) }),
    'application/yaml': (body) => ({ contentType: 'application/yaml', data: stringifyYaml(body) }),
    // Only the sandbox's own admin documents have no message; they stay JSON.
    [protobufMediaType]: (body) => {
      const data = codec.encodeObject(body);
      return data === undefined ? encoders['application/json'](body) : { contentType: protobufMediaType, data };
    },
  };
  const encoding = (mediaType: ServedMediaType, table: boolean): ResponseEncoding => ({ mediaType, table, encode: encoders[mediaType] });
  const protobufWatch: WatchEncoding = { contentType: `${protobufMediaType};stream=watch`, frame: (event) => codec.watchFrame(event) };
  return {
    negotiate(accept) {
      const choice = negotiateMediaType(accept, options);
      return choice === undefined ? err(notAcceptable(servedMediaTypes)) : ok(encoding(choice.mediaType, choice.table));
    },
    json: encoding('application/json', false),
    watchEncoding(accept) {
      const choice = negotiateMediaType(accept, options);
      if (choice?.mediaType === 'application/json') return jsonWatch;
      if (choice?.mediaType === protobufMediaType) return protobufWatch;
      throw notAcceptable(streamMediaTypes);
    },
    decodeBody(contentType, body, presence) {
      if (presence === 'optional' && body.toString('utf8').trim() === '') return undefined;
      const type = mediaTypeOf(contentType);
      if (type === '' || type === 'application/json') return decodeJson(body, presence);
      if (type === 'application/yaml') return decodeYaml(body.toString('utf8'));
      if (type === protobufMediaType) return decodeProtobuf(codec, body);
      throw new ApiStatusError('UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${servedMediaTypes.join(', ')}`);
    },
    decodePatch: (type, body) => (type === 'apply' ? decodeYaml(body.toString('utf8')) : decodeJson(body, 'required')),
  };
}

/** kube-apiserver's 406 (k8s.io/apiserver handlers/negotiation errNotAcceptable). */
function notAcceptable(types: readonly string[]): ApiStatusError {
  return new ApiStatusError('NotAcceptable', `only the following media types are accepted: ${types.join(', ')}`);
}

/** `application/json; charset=utf-8` -> `application/json`. */
export function mediaTypeOf(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** One clause of an `Accept` header: `type/subType;param=value;q=0.5`. */
export interface AcceptClause {
  readonly type: string;
  readonly subType: string;
  readonly q: number;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses `Accept` as goautoneg.ParseAccept does (the parser kube-apiserver uses): clauses sorted
 * by quality, then the specific before wildcards, otherwise in the order given.
 */
export function parseAccept(header: string): AcceptClause[] {
  const clauses = header.split(',').flatMap((part) => parseClause(part) ?? []);
  const rank = (c: AcceptClause): number => (c.type === '*' ? 2 : c.subType === '*' ? 1 : 0);
  return clauses.map((c, i) => ({ c, i })).sort((a, b) => b.c.q - a.c.q || rank(a.c) - rank(b.c) || a.i - b.i).map(({ c }) => c);
}

function parseClause(part: string): AcceptClause | undefined {
  const [range, ...rest] = part.split(';').map((p) => p.trim());
  const [type, subType] = (range ?? '').toLowerCase().split('/').map((p) => p.trim());
  if (type === undefined || type === '') return undefined;
  const { q, ...params } = Object.fromEntries(rest.map(parseParam).filter(([key]) => key !== ''));
  return { type, subType: subType === undefined || subType === '' ? '*' : subType, q: q === undefined ? 1 : Number.parseFloat(q) || 0, params };
}

function parseParam(param: string): [string, string] {
  const at = param.indexOf('=');
  return at < 0 ? [param.trim(), ''] : [param.slice(0, at).trim(), param.slice(at + 1).trim()];
}

/**
 * The served media type for `Accept`, as NegotiateMediaTypeOptions picks it: the first clause
 * (in parseAccept's order) that names a served type, or a wildcard covering one, and whose
 * parameters the endpoint allows: `as=Table;g=meta.k8s.io;v=v1|v1beta1` in JSON or YAML only
 * (Table has no protobuf form), no other conversion, `stream=watch` only where a stream form
 * exists. No `Accept` is JSON.
 */
export function negotiateMediaType(accept: string | undefined, options: NegotiatorOptions): { readonly mediaType: ServedMediaType; readonly table: boolean } | undefined {
  if (accept === undefined || accept.trim() === '') return { mediaType: 'application/json', table: false };
  for (const clause of parseAccept(accept)) {
    for (const mediaType of servedMediaTypes) {
      const [type, subType] = mediaType.split('/');
      const covers = clause.type === '*' || (clause.type === type && (clause.subType === '*' || clause.subType === subType));
      const table = clause.params.as === 'Table';
      if (covers && allows(clause.params, mediaType, options)) return { mediaType, table };
    }
  }
  return undefined;
}

function allows(params: Readonly<Record<string, string>>, mediaType: ServedMediaType, options: NegotiatorOptions): boolean {
  const { stream = '', sv = '' } = params;
  if (stream !== '' && (stream !== 'watch' || mediaType === 'application/yaml')) return false;
  if (sv !== '') return false;
  return allowsTransform(params, mediaType, options);
}

/** k8s.io/apiserver RequestScope.AllowsMediaTypeTransform: no conversion, or a Table in JSON or YAML. */
function allowsTransform(params: Readonly<Record<string, string>>, mediaType: ServedMediaType, options: NegotiatorOptions): boolean {
  const { as, g, v } = params;
  if (as === undefined && g === undefined && v === undefined) return true;
  const isTable = as === 'Table' && g === 'meta.k8s.io' && (v === 'v1' || v === 'v1beta1');
  return isTable && options.tables && mediaType !== protobufMediaType;
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

/** A YAML body (JSON being YAML too): `application/yaml` objects and `application/apply-patch+yaml` patches. */
function decodeYaml(text: string): unknown {
  try {
    return parseYaml(text) as unknown;
  } catch (e: unknown) {
    throw new ApiStatusError('BadRequest', `error decoding YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
}
