import type { ListWatchSource } from './informer.js';
import { httpStatusOf, type KubeRest, type WatchEvent } from './kube-rest.js';

/** The metadata a cache keys and versions objects by. */
export interface Keyed {
  readonly metadata?: { readonly name?: string | undefined; readonly namespace?: string | undefined; readonly resourceVersion?: string | undefined };
}

/** Options of a {@link restListWatch}. */
export interface RestListWatchOptions {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Objects per list page (`limit`); default {@link listPageSize}. */
  readonly pageSize?: number;
}

/**
 * Objects per list page: client-go's reflector lists in pages of 500 (`pager.defaultPageSize`),
 * so a list of every Node or EndpointSlice of a large cluster is never one body. Each page is
 * parsed and projected before the next is asked for, so the raw text and the wire objects of one
 * page at most are held at once, beside the projections (docs/speaker.md, "Memory").
 */
export const listPageSize = 500;

/** One page of a list as the API server sends it. */
interface ListPage<W> {
  readonly items?: readonly W[] | null;
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string };
}

/**
 * What is cached of each object instead of the whole of it (client-go's `cache.TransformFunc`,
 * set with `SharedIndexInformer.SetTransform`, for the same reason: keep only what is read). It
 * runs on every listed and watched object before the cache and the handlers see it, so neither
 * holds the wire object; a delete hands the handlers what was cached.
 * The projection must keep `metadata.name`, `metadata.namespace` and `metadata.resourceVersion`:
 * the cache is keyed and versioned by them.
 */
export type Projection<W, T extends Keyed> = (wire: W) => T;

interface Handlers<T> {
  readonly add: ((o: T) => void)[];
  readonly update: ((o: T) => void)[];
  readonly delete: ((o: T) => void)[];
  readonly error: ((e: unknown) => void)[];
}

const keyOf = (o: Keyed): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/**
 * Drops `metadata.managedFields` from an object before it is cached (the projection when a
 * {@link restListWatch} is given none), as controller-runtime's
 * `cache.TransformStripManagedFields` does for the same reason: nothing here reads them, and they
 * are often the larger half of an object (the sandbox's Services: 508 of 954 bytes), kept for
 * every Service, EndpointSlice, Node and Lease on every node. A Lease written back from the
 * cache (a standby's reap) carries none, which leaves the stored ones as they are (an update
 * without managedFields keeps them; only an empty list resets them).
 */
export function withoutManagedFields<T extends Keyed>(o: T): T {
  const metadata: object | undefined = o.metadata;
  if (metadata !== undefined && 'managedFields' in metadata) delete metadata.managedFields;
  return o;
}

/**
 * List (in pages, {@link listPageSize}), then watch from the list's resourceVersion, as
 * client-go's reflector and client-node's ListWatch do: a cache by namespace/name;
 * `add`/`update`/`delete` for what changed (a relist reports the differences); a watch the
 * server ends is resumed from the last resourceVersion (BOOKMARKs advance it); `410 Gone`
 * relists; any other failure is reported on `error` and stops, for the informer to restart with backoff (src/k8s/informer.ts). Objects are the JSON
 * the server sent, typed by the caller (no model classes: docs/speaker.md, "Memory"), without
 * their managedFields, or what `project` keeps of them.
 */
export function restListWatch<T extends Keyed>(rest: KubeRest, path: string, options?: RestListWatchOptions): ListWatchSource<T>;
/** The same, caching `project(object)` instead of the object (a speaker's view of it). */
export function restListWatch<W extends Keyed, T extends Keyed>(rest: KubeRest, path: string, options: RestListWatchOptions, project: Projection<W, T>): ListWatchSource<T>;
export function restListWatch<W extends Keyed, T extends Keyed>(rest: KubeRest, path: string, options: RestListWatchOptions = {}, project?: Projection<W, T>): ListWatchSource<T> {
  // Without a projection (the first signature) the wire type is the cached type.
  const toCached: Projection<W, T> = project ?? ((wire) => withoutManagedFields(wire) as Keyed as T);
  const objects = new Map<string, T>();
  let resourceVersion = '';
  let running: AbortController | undefined;
  const handlers: Handlers<T> = { add: [], update: [], delete: [], error: [] };
  const selectors: Record<string, string> = {
    ...(options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector }),
    ...(options.fieldSelector === undefined ? {} : { fieldSelector: options.fieldSelector }),
  };
  const fail = (e: unknown): void => {
    for (const h of handlers.error) h(e);
  };

  const upsert = (wire: W): void => {
    store(toCached(wire));
  };
  /** Caches an object already projected and reports it as added or updated. */
  const store = (o: T): void => {
    const key = keyOf(o);
    const old = objects.get(key);
    objects.set(key, o);
    if (old === undefined) for (const h of handlers.add) h(o);
    else if (old.metadata?.resourceVersion !== o.metadata?.resourceVersion) for (const h of handlers.update) h(o);
  };
  /** Removes a cached object; handlers get what was cached (already projected). */
  const remove = (key: string): void => {
    const old = objects.get(key);
    if (old === undefined) return;
    objects.delete(key);
    for (const h of handlers.delete) h(old);
  };

  const pageSize = options.pageSize ?? listPageSize;
  /** The query of the page after `page`, or undefined when it was the last (or the list was asked for whole). */
  const nextPage = (page: ListPage<W>, query: Readonly<Record<string, string>>): Record<string, string> | undefined => {
    const next = page.metadata?.continue ?? '';
    return next === '' || query.limit === undefined ? undefined : { limit: String(pageSize), continue: next };
  };
  const getPage = async (query: Record<string, string>, signal: AbortSignal): Promise<ListPage<W>> => {
    const text = new URLSearchParams({ ...selectors, ...query }).toString();
    return rest.request<ListPage<W>>('GET', text === '' ? path : `${path}?${text}`, undefined, signal);
  };

  /**
   * Every object, projected page by page: `limit`, then `continue` until the server gives no
   * token. Every page comes from the first page's snapshot (kube-apiserver's continue token
   * carries its resourceVersion), so the pages neither miss nor repeat an object. When that
   * snapshot is compacted between two pages (410 Expired), the list is taken again whole, without
   * `limit`, as client-go's ListPager does with `FullListIfExpired`: starting the pages over
   * could expire again on a busy cluster.
   */
  const listAll = async (signal: AbortSignal): Promise<{ items: Map<string, T>; resourceVersion: string }> => {
    const items = new Map<string, T>();
    let query: Record<string, string> = pageSize > 0 ? { limit: String(pageSize) } : {};
    for (;;) {
      const page = await getPage(query, signal).catch((e: unknown) => {
        if (query.continue === undefined || httpStatusOf(e) !== 410) throw e;
        return undefined;
      });
      if (page === undefined) {
        // The snapshot expired between pages: the whole list, in one.
        items.clear();
        query = {};
        continue;
      }
      for (const wire of page.items ?? []) {
        const o = toCached(wire);
        items.set(keyOf(o), o);
      }
      const next = nextPage(page, query);
      if (next === undefined) return { items, resourceVersion: page.metadata?.resourceVersion ?? '' };
      query = next;
    }
  };

  const relist = async (signal: AbortSignal): Promise<void> => {
    const list = await listAll(signal);
    for (const key of [...objects.keys()]) if (!list.items.has(key)) remove(key);
    for (const o of list.items.values()) store(o);
    resourceVersion = list.resourceVersion;
  };

  const onEvent = (e: WatchEvent): void => {
    const o = e.object as W & { code?: unknown };
    switch (e.type) {
      case 'ADDED':
      case 'MODIFIED':
        upsert(o);
        break;
      case 'DELETED':
        remove(keyOf(o));
        break;
      case 'ERROR':
        // A Status; 410 means our resourceVersion is too old: relist when the stream ends.
        if (o.code === 410) resourceVersion = '';
        return;
      default:
        break; // BOOKMARK: only the resourceVersion moves
    }
    resourceVersion = o.metadata?.resourceVersion ?? resourceVersion;
  };

  /** Watches until stopped or failed, resuming after a clean end and relisting after 410. */
  const watchLoop = async (signal: AbortSignal): Promise<void> => {
    // A function, not a property read: TypeScript would otherwise narrow `aborted` to false in the loop.
    const stopped = (): boolean => signal.aborted;
    while (!stopped()) {
      try {
        if (resourceVersion === '') await relist(signal);
        await rest.watch(path, { ...selectors, resourceVersion, allowWatchBookmarks: 'true' }, onEvent, signal);
      } catch (e: unknown) {
        if (stopped()) return;
        if (httpStatusOf(e) === 410) {
          resourceVersion = '';
          continue;
        }
        fail(e);
        return;
      }
    }
  };

  return {
    on(verb, cb) {
      handlers[verb].push(cb);
    },
    onError(cb) {
      handlers.error.push(cb);
    },
    async start() {
      running?.abort();
      const controller = new AbortController();
      running = controller;
      resourceVersion = '';
      try {
        await relist(controller.signal);
      } catch (e: unknown) {
        if (!controller.signal.aborted) fail(e);
        return;
      }
      void watchLoop(controller.signal);
    },
    stop() {
      running?.abort();
      running = undefined;
    },
    list: () => [...objects.values()],
    get: (name, namespace) => objects.get(`${namespace ?? ''}/${name}`),
  };
}
