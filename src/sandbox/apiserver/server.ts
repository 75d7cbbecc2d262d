import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Logger } from 'pino';
import type { Admission, Authorizer, RequestAttributes, RequestVerb } from './admission.js';
import { handleAdmin } from './admin.js';
import { authenticate, authorize, isAdmin } from './auth.js';
import { discoveryDoc, serverVersion } from './discovery.js';
import { createFieldManager } from './field-manager.js';
import { parseFieldValidation, scanJsonKeys, type JsonKeys } from './field-validation.js';
import { createFaults, injectFaults, RequestLog, watchStalled, type FaultSwitch } from './faults.js';
import { listen, readBody, serverUrl } from './http.js';
import { createNegotiator, sendError, sendObject, type BodyPresence, type Negotiator, type ResponseEncoding } from './negotiation.js';
import type { JsonObject } from './object.js';
import { ObjectHandler, type FieldRequest, type ListQuery, type ListResult } from './object-handler.js';
import { buildOpenApiDocs, type OpenApiDocs } from './openapi-docs.js';
import { builtInSchemas } from './openapi-schema.js';
import { negotiateOpenApiV2, openApiV2ProtobufType } from './openapi-v2-protobuf.js';
import { patchTypeOf, type PatchType } from './patch.js';
import { servedProtobufCodec } from './protobuf/served.js';
import { createSaver, restoreState } from './persistence.js';
import { checkListOptions, isDryRun, queryBool } from './query.js';
import { parseApiPath, type ApiPath, type ResourceTarget } from './request-path.js';
import { apiVersionOf, resourceDefs, type ResourceDef } from './resources.js';
import type { ObjectLookup, ServiceAccountTokens } from './service-account-tokens.js';
import { ApiStatusError } from './status.js';
import type { Result } from '../../shared/result.js';
import { Store } from './store.js';
import { servePodLog } from './pod-log.js';
import { serveWatch, type WatchRender, type WatchRequest } from './watch.js';

/** Renders `kubectl get` output: a meta.k8s.io/v1 Table of the given objects. */
export type TableRenderer = (def: ResourceDef, objects: readonly JsonObject[], now: Date, includeObject: 'None' | 'Metadata' | 'Object') => JsonObject;

export interface ApiServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Serve HTTPS with this certificate (kubectl sends tokens only over TLS); plain HTTP without. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Bearer token -> user name. Requests without a known token get 401. */
  readonly tokens: ReadonlyMap<string, string>;
  /** Users that may use the /sandbox/v1 admin endpoints and bypass the authorizer. */
  readonly adminUsers?: readonly string[];
  /** Persist the store here (JSON), so that a restart keeps objects and resourceVersions. */
  readonly statePath?: string;
  /** Storage key ('/services') -> admission hooks. */
  readonly admission?: ReadonlyMap<string, Admission>;
  /** Absent: every authenticated request is allowed. */
  readonly authorizer?: Authorizer;
  /**
   * An authorizer over the server's own objects (RBAC Roles and bindings applied to it), given a
   * reader of one storage; used instead of `authorizer` when present.
   */
  readonly storeAuthorizer?: (objects: (storage: string) => readonly JsonObject[]) => Authorizer;
  /** Service account tokens: the `serviceaccounts/token` subresource and their authentication. */
  readonly serviceAccountTokens?: ServiceAccountTokens;
  readonly table?: TableRenderer;
  /** Root of the kubelets' container log files (kubelet/log-files.ts), for pods/log; absent: no log content. */
  readonly podLogRoot?: string;
  readonly logger?: Logger;
  /** Watch events kept per resource for resumption (default 1000). */
  readonly eventLogSize?: number;
  /** Interval of watch BOOKMARK events (default 10 s; kube-apiserver sends them about once a minute). */
  readonly bookmarkIntervalMs?: number;
  readonly now?: () => Date;
  readonly random?: () => number;
}

/** A started server. */
export interface RunningApiServer {
  /** http(s)://host:port */
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  readonly faults: FaultSwitch;
  readonly requests: RequestLog;
  close(): Promise<void>;
}

/** kube-apiserver's default watch timeout is a random 30-60 min; a fixed 30 min here. */
const defaultWatchTimeoutMs = 30 * 60 * 1000;

class HttpReply {
  constructor(
    readonly code: number,
    readonly body: JsonObject,
    /** `Warning` header texts (field validation in Warn mode). */
    readonly warnings: readonly string[] = [],
  ) {}
}

/**
 * Starts the sandbox API server: enough of kube-apiserver for ironlb, client-node informers and
 * kubectl (docs/sandbox.md lists what is and is not implemented). Resolves once it listens.
 */
export async function startApiServer(options: ApiServerOptions): Promise<RunningApiServer> {
  const now = options.now ?? (() => new Date());
  const store = new Store({ eventLogSize: options.eventLogSize ?? 1000, now });
  const admission = options.admission ?? new Map<string, Admission>();
  await restoreState(store, admission, options.statePath);
  const saver = createSaver(store, options.statePath, options.logger);
  store.onWrite = saver.schedule;
  const watches = new Set<() => void>();
  const faults = createFaults(store, watches);
  const requests = new RequestLog();
  const schemas = builtInSchemas();
  const handler = new ObjectHandler(store, admission, createFieldManager({ schemas, defs: resourceDefs }), now);
  const openapi = buildOpenApiDocs(resourceDefs, schemas, serverVersion.gitVersion);
  const ctx: RequestContext = { options: withAuthorizer(options, store), store, negotiator: createNegotiator(servedProtobufCodec(), { tables: options.table !== undefined }), handler, openapi, faults, requests, watches, now, random: options.random ?? Math.random };
  const listener: RequestListener = (req, res) => {
    const negotiated = ctx.negotiator.negotiate(req.headers.accept);
    handleRequest(ctx, req, res, negotiated).catch((e: unknown) => {
      sendError(res, e, encodingOf(ctx, negotiated), options.logger);
    });
  };
  const server: Server = options.tls === undefined ? createServer(listener) : createTlsServer({ cert: options.tls.cert, key: options.tls.key }, listener);
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, host, options.port ?? 0);
  return {
    url: serverUrl(options.tls !== undefined, host, port),
    port,
    store,
    faults,
    requests,
    async close() {
      faults.closeWatches();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      await saver.flush();
    },
  };
}

/** The options with `storeAuthorizer`, when given, turned into the authorizer over `store`. */
function withAuthorizer(options: ApiServerOptions, store: Store): ApiServerOptions {
  const authorizer = options.storeAuthorizer?.((storage) => store.list(storage, undefined));
  return authorizer === undefined ? options : { ...options, authorizer };
}

interface RequestContext {
  readonly options: ApiServerOptions;
  readonly store: Store;
  readonly negotiator: Negotiator;
  readonly handler: ObjectHandler;
  readonly openapi: OpenApiDocs;
  readonly faults: FaultSwitch;
  readonly requests: RequestLog;
  readonly watches: Set<() => void>;
  readonly now: () => Date;
  readonly random: () => number;
}

/** The negotiated encoding; JSON when negotiation failed, as kube-apiserver's WriteObjectNegotiated falls back. */
function encodingOf(ctx: RequestContext, negotiated: Result<ResponseEncoding, ApiStatusError>): ResponseEncoding {
  return negotiated.ok ? negotiated.value : ctx.negotiator.json;
}

/**
 * The encoding of API documents and objects, which are negotiated: a refused `Accept` is a 406
 * there. `/version` is not: kube-apiserver 1.32 writes it as raw JSON whatever the client accepts.
 */
function apiEncoding(ctx: RequestContext, negotiated: Result<ResponseEncoding, ApiStatusError>, path: ApiPath): ResponseEncoding {
  if (path.kind === 'discovery' && path.doc === 'version') return ctx.negotiator.json;
  if (!negotiated.ok) throw negotiated.error;
  return negotiated.value;
}

async function handleRequest(ctx: RequestContext, req: IncomingMessage, res: ServerResponse, negotiated: Result<ResponseEncoding, ApiStatusError>): Promise<void> {
  const encoding = encodingOf(ctx, negotiated);
  const url = new URL(req.url ?? '/', 'http://sandbox');
  if (['/healthz', '/readyz', '/livez'].includes(url.pathname)) {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  const lookup: ObjectLookup = (storage, namespace, name) => ctx.store.get(storage, namespace, name);
  const user = await authenticate(ctx.options, req, lookup);
  if (user === undefined) throw new ApiStatusError('Unauthorized', 'Unauthorized');
  if (url.pathname.startsWith('/sandbox/v1/')) {
    if (!isAdmin(ctx.options, user)) throw new ApiStatusError('Forbidden', `User "${user}" cannot use the sandbox admin API`);
    const body = async (): Promise<unknown> => ctx.negotiator.decodeBody('application/json', await readBody(req), 'required');
    sendObject(res, 200, await handleAdmin(ctx, { method: req.method ?? 'GET', path: url.pathname, body }), encoding);
    return;
  }
  if (url.pathname.startsWith('/openapi/')) {
    serveOpenApi(ctx.openapi, req, res, url);
    return;
  }
  const path = parseApiPath(url.pathname, resourceDefs);
  if (path.kind === 'unknown') throw new ApiStatusError('NotFound', 'the server could not find the requested resource');
  const negotiatedEncoding = apiEncoding(ctx, negotiated, path);
  if (path.kind === 'discovery') {
    requireGet(req);
    sendObject(res, 200, discoveryDoc(path.doc, path.group, path.version, resourceDefs), negotiatedEncoding);
    return;
  }
  await handleResource(ctx, user, { req, res, url, encoding: negotiatedEncoding }, path.target);
}

/** One HTTP exchange: the request, its parsed URL, the response and its negotiated encoding. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly encoding: ResponseEncoding;
}

async function handleResource(ctx: RequestContext, user: string, x: Exchange, target: ResourceTarget): Promise<void> {
  const { req, res, url } = x;
  const verb = verbOf(req.method ?? 'GET', target, url.searchParams);
  const attrs: RequestAttributes = { user, verb, group: target.def.group, resource: target.def.plural, subresource: target.subresource, namespace: target.namespace, name: target.name };
  const record = (code: number): void => {
    ctx.requests.record({ ...attrs, at: Date.now(), code, contentType: req.headers['content-type'] ?? '' });
  };
  try {
    authorize(ctx.options, attrs);
    await injectFaults(ctx.faults, attrs, ctx.random);
    if (verb === 'watch') {
      record(200);
      serveWatch(res, watchRequest(ctx, req, url, target), { store: ctx.store, bookmarkIntervalMs: ctx.options.bookmarkIntervalMs ?? 10_000, track: trackIn(ctx.watches), encoding: ctx.negotiator.watchEncoding(req.headers.accept), onEventSent: () => { ctx.requests.watchEventSent(); }, stalled: () => watchStalled(ctx.faults.stallWatches, attrs) });
      return;
    }
    if (target.subresource === 'log' && verb === 'get') {
      const chosen = ctx.handler.logTarget(target, url.searchParams.get('container'));
      record(200);
      await servePodLog({ root: ctx.options.podLogRoot, store: ctx.store, def: target.def }, chosen, { req, res, query: url.searchParams });
      return;
    }
    const reply = await dispatch(ctx, verb, req, url, target);
    record(reply.code);
    // RFC 7234 Warning headers, code 299 and agent "-", as kube-apiserver sends them (kubectl prints them).
    if (reply.warnings.length > 0) res.setHeader('warning', reply.warnings.map((w) => `299 - ${JSON.stringify(w)}`));
    sendObject(res, reply.code, reply.body, x.encoding);
  } catch (e: unknown) {
    record(e instanceof ApiStatusError ? e.code : 500);
    throw e;
  }
}

async function dispatch(ctx: RequestContext, verb: RequestVerb, req: IncomingMessage, url: URL, t: ResourceTarget): Promise<HttpReply> {
  const dryRun = isDryRun(url.searchParams);
  switch (verb) {
    case 'get':
    case 'list':
      return read(ctx, verb, req, url, t);
    case 'create':
      return t.subresource === 'token' ? tokenRequest(ctx, req, t) : create(ctx, req, url, t, dryRun);
    case 'update': {
      const { body, fields } = await fieldBody(ctx, req, url);
      return new HttpReply(200, ctx.handler.update(t, body, dryRun, fields), fields.warnings);
    }
    case 'patch':
      return patch(ctx, req, url, t, dryRun);
    case 'delete':
      return new HttpReply(200, ctx.handler.delete(t, await requestBody(ctx, req, 'optional'), dryRun, url.searchParams.get('propagationPolicy'), url.searchParams.get('gracePeriodSeconds')));
    case 'deletecollection':
      return new HttpReply(200, listBody(t.def, ctx.handler.deleteCollection(t, listQuery(url)), undefined));
    case 'watch':
      throw new Error('watch is streamed, not dispatched');
  }
}

/** POST to a collection (or pods/<name>/binding). */
async function create(ctx: RequestContext, req: IncomingMessage, url: URL, t: ResourceTarget, dryRun: boolean): Promise<HttpReply> {
  const { body, fields } = await fieldBody(ctx, req, url);
  return new HttpReply(dryRun ? 200 : 201, ctx.handler.create(t, body, dryRun, fields), fields.warnings);
}

/** POST serviceaccounts/<name>/token (authentication.k8s.io/v1 TokenRequest), as `kubectl create token` and kubelets use it. */
async function tokenRequest(ctx: RequestContext, req: IncomingMessage, t: ResourceTarget): Promise<HttpReply> {
  const tokens = ctx.options.serviceAccountTokens;
  if (tokens === undefined) throw new ApiStatusError('NotFound', 'the server could not find the requested resource');
  const body = await requestBody(ctx, req, 'required');
  const lookup: ObjectLookup = (storage, namespace, name) => ctx.store.get(storage, namespace, name);
  return new HttpReply(201, await tokens.issue(t.namespace, t.name, body, lookup));
}

async function patch(ctx: RequestContext, req: IncomingMessage, url: URL, t: ResourceTarget, dryRun: boolean): Promise<HttpReply> {
  const type = patchType(req);
  if (type !== 'apply') {
    // A JSON patch is a list of operations: its keys are not the object's.
    const { body, fields } = await fieldBody(ctx, req, url, type);
    return new HttpReply(200, ctx.handler.patch(t, type, body, dryRun, fields), fields.warnings);
  }
  const fields = fieldRequest(req, url, undefined);
  if (url.searchParams.get('fieldManager') === null) {
    throw new ApiStatusError('Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch', {
      kind: 'PatchOptions',
      group: 'meta.k8s.io',
      causes: [{ reason: 'FieldValueRequired', field: 'fieldManager', message: 'Required value: is required for apply patch' }],
    });
  }
  const applied = ctx.handler.apply(t, ctx.negotiator.decodePatch('apply', await readBody(req)), dryRun, fields);
  return new HttpReply(applied.created && !dryRun ? 201 : 200, applied.object, fields.warnings);
}

/**
 * `fieldValidation`, `fieldManager` and `force` of a write. Without `fieldManager` the manager is
 * the product part of the User-Agent (`kubectl` of `kubectl/v1.32.0 (linux/amd64)`), as
 * kube-apiserver names it.
 */
function fieldRequest(req: IncomingMessage, url: URL, keys: JsonKeys | undefined): FieldRequest {
  const q = url.searchParams;
  const fieldValidation = parseFieldValidation(q.get('fieldValidation'));
  if (fieldValidation === undefined) {
    throw new ApiStatusError('BadRequest', `fieldValidation: invalid value "${q.get('fieldValidation') ?? ''}": must be one of Ignore, Warn or Strict`);
  }
  const fieldManager = q.get('fieldManager') ?? (req.headers['user-agent'] ?? '').split('/')[0] ?? '';
  const force = ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(q.get('force') ?? '');
  return { fieldValidation, fieldManager, force, warnings: [], ...(keys === undefined ? {} : { keys }) };
}

/**
 * The body of a create, update or (JSON) patch, with its field options; a JSON body's keys are
 * scanned for duplicates, except a JSON patch's (a list of operations: its keys are not the object's).
 */
async function fieldBody(ctx: RequestContext, req: IncomingMessage, url: URL, patch?: PatchType): Promise<{ body: unknown; fields: FieldRequest }> {
  const raw = await readBody(req);
  const contentType = req.headers['content-type'];
  const body = patch === undefined ? ctx.negotiator.decodeBody(contentType, raw, 'required') : ctx.negotiator.decodePatch(patch, raw);
  const json = patch !== 'json' && /json/.test(contentType ?? 'application/json');
  return { body, fields: fieldRequest(req, url, json ? scanJsonKeys(raw.toString('utf8')) : undefined) };
}

/** Documents (discovery, OpenAPI) are read-only. */
function requireGet(req: IncomingMessage): void {
  if (req.method !== 'GET') throw new ApiStatusError('MethodNotAllowed', 'the server does not allow this method on the requested resource');
}

/** `/openapi/v2` (JSON or protobuf), the `/openapi/v3` index, and `/openapi/v3/<group-version>` documents. */
function serveOpenApi(docs: OpenApiDocs, req: IncomingMessage, res: ServerResponse, url: URL): void {
  requireGet(req);
  if (url.pathname === '/openapi/v2') {
    serveOpenApiV2(docs, req, res);
    return;
  }
  if (url.pathname === '/openapi/v3' || url.pathname === '/openapi/v3/') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(docs.v3Index);
    return;
  }
  const doc = docs.v3.get(url.pathname.slice('/openapi/v3/'.length));
  if (doc === undefined) throw new ApiStatusError('NotFound', 'the server could not find the requested resource');
  // kube-openapi's handler3: a request naming the current hash may be cached for good.
  const cache = url.searchParams.get('hash') === doc.hash ? 'public, immutable' : 'no-cache, private';
  res.writeHead(200, { 'content-type': 'application/json', etag: `"${doc.hash}"`, 'cache-control': cache }).end(doc.body);
}

/** kube-openapi's v2 handler: JSON or gnostic protobuf by `Accept`, else a bare 406. */
function serveOpenApiV2(docs: OpenApiDocs, req: IncomingMessage, res: ServerResponse): void {
  const format = negotiateOpenApiV2(req.headers.accept);
  if (format === undefined) res.writeHead(406, { vary: 'Accept' }).end();
  else if (format === 'json') res.writeHead(200, { 'content-type': 'application/json', vary: 'Accept' }).end(docs.v2);
  else res.writeHead(200, { 'content-type': openApiV2ProtobufType, vary: 'Accept' }).end(docs.v2Protobuf);
}

function read(ctx: RequestContext, verb: 'get' | 'list', req: IncomingMessage, url: URL, t: ResourceTarget): HttpReply {
  const table = tableMode(ctx, req, url);
  if (verb === 'list') {
    checkListOptions(url.searchParams);
    return new HttpReply(200, listBody(t.def, ctx.handler.list(t, listQuery(url)), table));
  }
  const obj = ctx.handler.get(t);
  return new HttpReply(200, table === undefined ? obj : table(t.def, [obj]));
}

type TableFn = (def: ResourceDef, objects: readonly JsonObject[]) => JsonObject;

/** A Table renderer when the client asked for `as=Table` and one is configured. */
function tableMode(ctx: RequestContext, req: IncomingMessage, url: URL): TableFn | undefined {
  const render = ctx.options.table;
  const negotiated = ctx.negotiator.negotiate(req.headers.accept);
  if (render === undefined || !negotiated.ok || !negotiated.value.table) return undefined;
  const param = url.searchParams.get('includeObject');
  const include = param === 'None' || param === 'Object' ? param : 'Metadata';
  return (def, objects) => render(def, objects, ctx.now(), include);
}

function listBody(def: ResourceDef, result: ListResult, table: TableFn | undefined): JsonObject {
  const metadata: JsonObject = { resourceVersion: result.resourceVersion };
  if (result.continueToken !== undefined) metadata.continue = result.continueToken;
  if (result.remaining !== undefined) metadata.remainingItemCount = result.remaining;
  if (table !== undefined) return { ...table(def, result.items), metadata };
  return { kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata, items: result.items };
}

function listQuery(url: URL): ListQuery {
  const limit = Number(url.searchParams.get('limit') ?? '0');
  return {
    labelSelector: url.searchParams.get('labelSelector'),
    fieldSelector: url.searchParams.get('fieldSelector'),
    limit: Number.isSafeInteger(limit) && limit > 0 ? limit : 0,
    continueToken: url.searchParams.get('continue'),
    ...listResourceVersion(url.searchParams),
  };
}

/**
 * `resourceVersion` of a list, when one is asked for (one that is not a number is ignored, as
 * before). Exact with `resourceVersionMatch=Exact`, and, for legacy reasons as in kube-apiserver,
 * with a `limit` and no match given.
 */
function listResourceVersion(q: URLSearchParams): Pick<ListQuery, 'resourceVersion'> {
  const rv = Number(q.get('resourceVersion') ?? '');
  if (!Number.isSafeInteger(rv) || rv <= 0) return {};
  const match = q.get('resourceVersionMatch') ?? '';
  return { resourceVersion: { rv, exact: match === 'Exact' || (match === '' && Number(q.get('limit') ?? '0') > 0) } };
}

function watchRequest(ctx: RequestContext, req: IncomingMessage, url: URL, target: ResourceTarget): WatchRequest {
  const q = url.searchParams;
  const timeout = Number(q.get('timeoutSeconds') ?? '0');
  const table = tableMode(ctx, req, url);
  const render: WatchRender = table === undefined ? (wire) => wire : (wire) => table(target.def, [wire]);
  return {
    target,
    labelSelector: q.get('labelSelector'),
    fieldSelector: q.get('fieldSelector'),
    resourceVersion: q.get('resourceVersion'),
    allowBookmarks: queryBool(q, 'allowWatchBookmarks'),
    timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout * 1000 : defaultWatchTimeoutMs,
    render,
  };
}


/** method -> [verb on a collection, verb on one object]; undefined where not allowed. */
const verbs: Readonly<Record<string, readonly [RequestVerb | undefined, RequestVerb | undefined]>> = {
  GET: ['list', 'get'],
  POST: ['create', undefined],
  PUT: [undefined, 'update'],
  PATCH: [undefined, 'patch'],
  DELETE: ['deletecollection', 'delete'],
};

/** The verb of a method on a target; a Binding is created on the Pod it binds (POST pods/<name>/binding). */
function methodVerb(method: string, t: ResourceTarget): RequestVerb | undefined {
  if (t.subresource === 'binding' || t.subresource === 'token') return method === 'POST' ? 'create' : undefined;
  const verb = verbs[method]?.[t.name === '' ? 0 : 1];
  return verb === 'create' && t.subresource !== '' ? undefined : verb;
}

function verbOf(method: string, t: ResourceTarget, q: URLSearchParams): RequestVerb {
  const watching = t.watchPrefix || queryBool(q, 'watch');
  if (method === 'GET' && watching) return 'watch';
  const verb = methodVerb(method, t);
  if (verb === undefined) throw new ApiStatusError('MethodNotAllowed', 'the server does not allow this method on the requested resource');
  return verb;
}

async function requestBody(ctx: RequestContext, req: IncomingMessage, presence: BodyPresence): Promise<unknown> {
  return ctx.negotiator.decodeBody(req.headers['content-type'], await readBody(req), presence);
}

function patchType(req: IncomingMessage): ReturnType<typeof patchTypeOf> & string {
  const type = patchTypeOf(req.headers['content-type']);
  if (type === undefined) {
    // In k8s.io/apiserver's order (endpoints/installer.go supportedTypes).
    throw new ApiStatusError('UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml`);
  }
  return type;
}

function trackIn(watches: Set<() => void>): (close: () => void) => () => void {
  return (close) => {
    watches.add(close);
    return () => watches.delete(close);
  };
}

