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
 * List, then watch from the list's resourceVersion, as client-go's reflector and client-node's
 * ListWatch do: a cache by namespace/name; `add`/`update`/`delete` for what changed (a relist
 * reports the differences); a watch the server ends is resumed from the last resourceVersion
 * (BOOKMARKs advance it); `410 Gone` relists; any other failure is reported on `error` and
 * stops, for the informer to restart with backoff (src/k8s/informer.ts). Objects are the JSON
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
    const o = toCached(wire);
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

  const relist = async (signal: AbortSignal): Promise<void> => {
    const query = new URLSearchParams(selectors).toString();
    const list = await rest.request<{ items?: W[]; metadata?: { resourceVersion?: string } }>('GET', query === '' ? path : `${path}?${query}`, undefined, signal);
    const items = list.items ?? [];
    const fresh = new Set(items.map(keyOf));
    for (const key of [...objects.keys()]) if (!fresh.has(key)) remove(key);
    for (const o of items) upsert(o);
    resourceVersion = list.metadata?.resourceVersion ?? '';
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
