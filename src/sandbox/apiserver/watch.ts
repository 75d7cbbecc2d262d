import type { ServerResponse } from 'node:http';
import type { WatchEncoding } from './negotiation.js';
import { child, type JsonObject } from './object.js';
import { toWire } from './object-handler.js';
import type { ResourceTarget } from './request-path.js';
import { apiVersionOf } from './resources.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { ApiStatusError, statusBody } from './status.js';
import type { Store, StoreEvent } from './store.js';

/** How a watch response renders objects: plain, or as one-row Tables for `kubectl get -w`. */
export type WatchRender = (wire: JsonObject) => JsonObject;

/** A watch request, parsed from the query. */
export interface WatchRequest {
  readonly target: ResourceTarget;
  readonly labelSelector: string | null;
  readonly fieldSelector: string | null;
  /** null, '' or '0': start with ADDED events for every current object. */
  readonly resourceVersion: string | null;
  readonly allowBookmarks: boolean;
  readonly timeoutMs: number;
  readonly render: WatchRender;
}

/** What a watch stream needs from the server. */
export interface WatchDeps {
  readonly store: Store;
  readonly bookmarkIntervalMs: number;
  /** Registers the stream's close function (fault injection cuts all streams); returns an unregister. */
  readonly track: (close: () => void) => () => void;
  /** The negotiated encoding of the stream's events. */
  readonly encoding: WatchEncoding;
  /** Called for every ADDED/MODIFIED/DELETED event written (not BOOKMARKs): the server counts fan-out. */
  readonly onEventSent?: () => void;
  /** True while fault injection keeps this stream silent (faults.ts `WatchStall`): nothing is written. */
  readonly stalled?: () => boolean;
}

/**
 * Streams watch events as kube-apiserver does: HTTP 200, one event per frame, BOOKMARKs when
 * allowed, and a 410 `Expired` ERROR event (then end of stream) when the resourceVersion is older
 * than the retained history, so the client relists. Throws an ApiStatusError before anything is
 * written when the request is malformed.
 */
export function serveWatch(res: ServerResponse, req: WatchRequest, deps: WatchDeps): void {
  const { target } = req;
  const labels = parseLabelSelector(req.labelSelector);
  const fields = parseFieldSelector(req.fieldSelector);
  const fromRv = parseRv(req.resourceVersion);
  const matches = (wire: JsonObject): boolean => inTarget(target, wire) && labels(wire) && fields(wire);
  res.writeHead(200, { 'content-type': deps.encoding.contentType, 'cache-control': 'no-cache, private' });
  res.flushHeaders();
  const send = (type: string, object: JsonObject): void => {
    if (deps.stalled?.() === true) return;
    res.write(deps.encoding.frame({ type, object }));
  };
  const onEvent = (e: StoreEvent): void => {
    const wire = toWire(target.def, e.object);
    if (!matches(wire) || deps.stalled?.() === true) return;
    send(e.type, req.render(wire));
    deps.onEventSent?.();
  };
  const start = fromRv === undefined ? initialState(deps.store, target, onEvent) : fromRv;
  const started = deps.store.watch(target.def.storage, start, onEvent);
  if (started.kind === 'gone') {
    const message = `too old resource version: ${String(start)} (${String(started.oldest)})`;
    send('ERROR', statusBody('Expired', message));
    res.end();
    return;
  }
  for (const e of started.replay) onEvent(e);
  streamUntilDone(res, req, deps, started.unsubscribe, send);
}

function streamUntilDone(res: ServerResponse, req: WatchRequest, deps: WatchDeps, unsubscribe: () => void, send: (type: string, object: JsonObject) => void): void {
  const { def } = req.target;
  const bookmarks = req.allowBookmarks
    ? setInterval(() => {
        send('BOOKMARK', { kind: def.kind, apiVersion: apiVersionOf(def), metadata: { resourceVersion: String(deps.store.currentRv()) } });
      }, deps.bookmarkIntervalMs)
    : undefined;
  let untrack = (): void => undefined;
  const timeout = setTimeout(() => {
    finish();
  }, req.timeoutMs);
  function finish(): void {
    clearTimeout(timeout);
    clearInterval(bookmarks);
    unsubscribe();
    untrack();
    if (!res.writableEnded) res.end();
  }
  untrack = deps.track(finish);
  res.on('close', finish);
}

/** Sends ADDED for every current object and returns the RV to watch from. */
function initialState(store: Store, target: ResourceTarget, onEvent: (e: StoreEvent) => void): number {
  const rv = store.currentRv();
  for (const object of store.list(target.def.storage, target.namespace === '' ? undefined : target.namespace)) {
    onEvent({ type: 'ADDED', rv, object, previous: undefined });
  }
  return rv;
}

function parseRv(rv: string | null): number | undefined {
  if (rv === null || rv === '' || rv === '0') return undefined;
  const n = Number(rv);
  if (!Number.isSafeInteger(n) || n < 0) throw new ApiStatusError('BadRequest', `invalid resource version "${rv}"`);
  return n;
}

function inTarget(target: ResourceTarget, wire: JsonObject): boolean {
  const m = child(wire, 'metadata');
  if (target.name !== '' && m.name !== target.name) return false;
  return target.namespace === '' || m.namespace === target.namespace;
}
