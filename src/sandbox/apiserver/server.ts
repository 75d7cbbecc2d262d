import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Admission, Authorizer, RequestAttributes, RequestVerb } from './admission.js';
import { discoveryDoc } from './discovery.js';
import { shouldFail, RequestLog, type FailureRule, type FaultSwitch } from './faults.js';
import { isObject, type JsonObject } from './object.js';
import { ObjectHandler, type ListQuery, type ListResult } from './object-handler.js';
import { patchTypeOf } from './patch.js';
import { loadSnapshot, saveSnapshot } from './persistence.js';
import { parseApiPath, type ResourceTarget } from './request-path.js';
import { apiVersionOf, resourceDefs, type ResourceDef } from './resources.js';
import { ApiStatusError, statusBody, type StatusReason } from './status.js';
import { Store } from './store.js';
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
  readonly table?: TableRenderer;
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

/** The namespaces every cluster starts with. */
const initialNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
/** kube-apiserver's request body limit. */
const maxBodyBytes = 3 * 1024 * 1024;
/** kube-apiserver's default watch timeout is a random 30-60 min; a fixed 30 min here. */
const defaultWatchTimeoutMs = 30 * 60 * 1000;

class HttpReply {
  constructor(
    readonly code: number,
    readonly body: JsonObject,
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
  const saver = createSaver(store, options);
  store.onWrite = saver.schedule;
  const watches = new Set<() => void>();
  const faults = createFaults(store, watches);
  const requests = new RequestLog();
  const ctx: RequestContext = { options, store, handler: new ObjectHandler(store, admission), faults, requests, watches, now, random: options.random ?? Math.random };
  const listener: RequestListener = (req, res) => {
    handleRequest(ctx, req, res).catch((e: unknown) => {
      sendError(res, e, options.logger);
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

function serverUrl(tls: boolean, host: string, port: number): string {
  return `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${String(port)}`;
}

interface RequestContext {
  readonly options: ApiServerOptions;
  readonly store: Store;
  readonly handler: ObjectHandler;
  readonly faults: FaultSwitch;
  readonly requests: RequestLog;
  readonly watches: Set<() => void>;
  readonly now: () => Date;
  readonly random: () => number;
}

async function handleRequest(ctx: RequestContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sandbox');
  if (['/healthz', '/readyz', '/livez'].includes(url.pathname)) {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  const user = authenticate(ctx.options, req);
  if (user === undefined) throw new ApiStatusError('Unauthorized', 'Unauthorized');
  if (url.pathname.startsWith('/sandbox/v1/')) {
    sendJson(res, 200, await handleAdmin(ctx, user, req, url));
    return;
  }
  const path = parseApiPath(url.pathname, resourceDefs);
  if (path.kind === 'unknown') throw new ApiStatusError('NotFound', 'the server could not find the requested resource');
  if (path.kind === 'discovery') {
    if (req.method !== 'GET') throw new ApiStatusError('MethodNotAllowed', `the server does not allow this method on the requested resource`);
    sendJson(res, 200, discoveryDoc(path.doc, path.group, path.version, resourceDefs));
    return;
  }
  await handleResource(ctx, user, req, res, url, path.target);
}

async function handleResource(ctx: RequestContext, user: string, req: IncomingMessage, res: ServerResponse, url: URL, target: ResourceTarget): Promise<void> {
  const verb = verbOf(req.method ?? 'GET', target, url.searchParams);
  const attrs: RequestAttributes = { user, verb, group: target.def.group, resource: target.def.plural, subresource: target.subresource, namespace: target.namespace, name: target.name };
  const record = (code: number): void => {
    ctx.requests.record({ ...attrs, at: Date.now(), code });
  };
  try {
    authorize(ctx.options, attrs);
    await injectFaults(ctx, attrs);
    if (verb === 'watch') {
      record(200);
      serveWatch(res, watchRequest(ctx, req, url, target), { store: ctx.store, bookmarkIntervalMs: ctx.options.bookmarkIntervalMs ?? 10_000, track: trackIn(ctx.watches) });
      return;
    }
    const reply = await dispatch(ctx, verb, req, url, target);
    record(reply.code);
    sendJson(res, reply.code, reply.body);
  } catch (e: unknown) {
    record(e instanceof ApiStatusError ? e.code : 500);
    throw e;
  }
}

async function dispatch(ctx: RequestContext, verb: RequestVerb, req: IncomingMessage, url: URL, t: ResourceTarget): Promise<HttpReply> {
  const dryRun = url.searchParams.getAll('dryRun').includes('All');
  switch (verb) {
    case 'get':
    case 'list':
      return read(ctx, verb, req, url, t);
    case 'create':
      return new HttpReply(dryRun ? 200 : 201, ctx.handler.create(t, await readJson(req), dryRun));
    case 'update':
      return new HttpReply(200, ctx.handler.update(t, await readJson(req), dryRun));
    case 'patch':
      return new HttpReply(200, ctx.handler.patch(t, patchType(req), await readJson(req), dryRun));
    case 'delete':
      return new HttpReply(200, ctx.handler.delete(t, await readJsonOrEmpty(req)));
    case 'deletecollection':
      return new HttpReply(200, listBody(t.def, ctx.handler.deleteCollection(t, listQuery(url)), undefined));
    case 'watch':
      throw new Error('watch is streamed, not dispatched');
  }
}

function read(ctx: RequestContext, verb: 'get' | 'list', req: IncomingMessage, url: URL, t: ResourceTarget): HttpReply {
  const table = tableMode(ctx, req, url);
  if (verb === 'list') return new HttpReply(200, listBody(t.def, ctx.handler.list(t, listQuery(url)), table));
  const obj = ctx.handler.get(t);
  return new HttpReply(200, table === undefined ? obj : table(t.def, [obj]));
}

type TableFn = (def: ResourceDef, objects: readonly JsonObject[]) => JsonObject;

/** A Table renderer when the client asked for `as=Table` and one is configured. */
function tableMode(ctx: RequestContext, req: IncomingMessage, url: URL): TableFn | undefined {
  const render = ctx.options.table;
  if (render === undefined || !(req.headers.accept ?? '').includes('as=Table')) return undefined;
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
  };
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
    allowBookmarks: q.get('allowWatchBookmarks') === 'true',
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

function verbOf(method: string, t: ResourceTarget, q: URLSearchParams): RequestVerb {
  const watching = t.watchPrefix || q.get('watch') === 'true' || q.get('watch') === '1';
  if (method === 'GET' && watching) return 'watch';
  const verb = verbs[method]?.[t.name === '' ? 0 : 1];
  if (verb === undefined || (verb === 'create' && t.subresource !== '')) {
    throw new ApiStatusError('MethodNotAllowed', 'the server does not allow this method on the requested resource');
  }
  return verb;
}

function patchType(req: IncomingMessage): ReturnType<typeof patchTypeOf> & string {
  const type = patchTypeOf(req.headers['content-type']);
  if (type === undefined) {
    throw new ApiStatusError('UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (server-side apply is not implemented by the sandbox)`);
  }
  return type;
}

function authenticate(options: ApiServerOptions, req: IncomingMessage): string | undefined {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match === null ? undefined : options.tokens.get(match[1] ?? '');
}

function isAdmin(options: ApiServerOptions, user: string): boolean {
  return (options.adminUsers ?? ['admin']).includes(user);
}

function authorize(options: ApiServerOptions, a: RequestAttributes): void {
  if (options.authorizer === undefined || isAdmin(options, a.user) || options.authorizer(a)) return;
  const resource = a.subresource === '' ? a.resource : `${a.resource}/${a.subresource}`;
  const named = a.name === '' ? '' : ` "${a.name}"`;
  const where = a.namespace === '' ? 'at the cluster scope' : `in the namespace "${a.namespace}"`;
  throw new ApiStatusError('Forbidden', `${resource}${named} is forbidden: User "${a.user}" cannot ${a.verb} resource "${resource}" in API group "${a.group}" ${where}`);
}

const failReasons: Readonly<Record<number, StatusReason>> = { 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable' };

async function injectFaults(ctx: RequestContext, attrs: RequestAttributes): Promise<void> {
  if (ctx.faults.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, ctx.faults.latencyMs));
  const rule = ctx.faults.fail;
  if (rule !== undefined && shouldFail(rule, attrs, ctx.random)) {
    throw new ApiStatusError(failReasons[rule.code] ?? 'InternalError', `injected fault: ${String(rule.code)}`);
  }
}

function createFaults(store: Store, watches: Set<() => void>): FaultSwitch {
  return {
    latencyMs: 0,
    fail: undefined,
    closeWatches() {
      for (const close of [...watches]) close();
    },
    compact() {
      store.compact();
    },
  };
}

function trackIn(watches: Set<() => void>): (close: () => void) => () => void {
  return (close) => {
    watches.add(close);
    return () => watches.delete(close);
  };
}

/** `/sandbox/v1/requests` (GET: counts) and `/sandbox/v1/faults` (POST: set faults). Admins only. */
async function handleAdmin(ctx: RequestContext, user: string, req: IncomingMessage, url: URL): Promise<JsonObject> {
  if (!isAdmin(ctx.options, user)) throw new ApiStatusError('Forbidden', `User "${user}" cannot use the sandbox admin API`);
  if (url.pathname === '/sandbox/v1/requests' && req.method === 'GET') {
    const forbidden = ctx.requests.entries().filter((r) => r.code === 403).map((r) => `${r.user} ${r.verb} ${r.resource}${r.subresource === '' ? '' : `/${r.subresource}`} ${r.namespace}`);
    return { total: ctx.requests.total(), counts: Object.fromEntries(ctx.requests.counts()), forbidden };
  }
  if (url.pathname === '/sandbox/v1/faults' && req.method === 'POST') {
    applyFaultRequest(ctx.faults, await readJson(req));
    return { latencyMs: ctx.faults.latencyMs, fail: ctx.faults.fail ?? null };
  }
  throw new ApiStatusError('NotFound', 'the server could not find the requested resource');
}

function applyFaultRequest(faults: FaultSwitch, body: unknown): void {
  if (!isObject(body)) throw new ApiStatusError('BadRequest', 'faults: expected a JSON object');
  if (typeof body.latencyMs === 'number') faults.latencyMs = Math.max(0, body.latencyMs);
  if (body.fail === null) faults.fail = undefined;
  else if (isObject(body.fail)) faults.fail = parseFailureRule(body.fail);
  if (body.compact === true) faults.compact();
  if (body.closeWatches === true) faults.closeWatches();
}

function parseFailureRule(fail: JsonObject): FailureRule {
  const code = fail.code;
  const rate = fail.rate ?? 1;
  if (typeof code !== 'number' || failReasons[code] === undefined) throw new ApiStatusError('BadRequest', 'faults.fail.code: must be 429, 500 or 503');
  if (typeof rate !== 'number' || rate < 0 || rate > 1) throw new ApiStatusError('BadRequest', 'faults.fail.rate: must be between 0 and 1');
  const verbs = Array.isArray(fail.verbs) ? (fail.verbs.filter((v) => typeof v === 'string') as RequestVerb[]) : undefined;
  return { code, rate, ...(verbs === undefined ? {} : { verbs }), ...(typeof fail.user === 'string' ? { user: fail.user } : {}) };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > maxBodyBytes) throw new ApiStatusError('RequestEntityTooLarge', 'the request body is too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  try {
    return JSON.parse(text);
  } catch (e: unknown) {
    throw new ApiStatusError('BadRequest', `the request body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function readJsonOrEmpty(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiStatusError('BadRequest', 'the request body is not valid JSON');
  }
}

function sendJson(res: ServerResponse, code: number, body: JsonObject): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function sendError(res: ServerResponse, e: unknown, logger: Logger | undefined): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (e instanceof ApiStatusError) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (e.code === 429) headers['retry-after'] = '1';
    res.writeHead(e.code, headers).end(JSON.stringify(e.toStatus()));
    return;
  }
  logger?.error({ event: 'apiServerError', err: e }, 'sandbox API server: request failed');
  res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(statusBody('InternalError', e instanceof Error ? e.message : String(e))));
}

async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

async function restoreState(store: Store, admission: ReadonlyMap<string, Admission>, statePath: string | undefined): Promise<void> {
  const snapshot = statePath === undefined ? undefined : await loadSnapshot(statePath);
  if (snapshot === undefined) {
    for (const name of initialNamespaces) store.create('/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name }, status: { phase: 'Active' } });
    return;
  }
  store.restore(snapshot);
  for (const [storage, hooks] of admission) {
    for (const obj of store.list(storage, undefined)) hooks.restored(obj);
  }
}

interface Saver {
  readonly schedule: () => void;
  flush(): Promise<void>;
}

/** Debounced persistence: at most one write per 200 ms, and a final one at close. */
function createSaver(store: Store, options: ApiServerOptions): Saver {
  const path = options.statePath;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  const save = (): void => {
    timer = undefined;
    if (path === undefined) return;
    const snapshot = store.snapshot();
    chain = chain.then(() => saveSnapshot(path, snapshot)).catch((e: unknown) => {
      options.logger?.error({ event: 'stateSaveFailed', err: e, path }, 'could not save the sandbox API server state');
    });
  };
  return {
    schedule() {
      if (path !== undefined && timer === undefined) timer = setTimeout(save, 200);
    },
    async flush() {
      if (timer !== undefined) {
        clearTimeout(timer);
        save();
      }
      await chain;
    },
  };
}

