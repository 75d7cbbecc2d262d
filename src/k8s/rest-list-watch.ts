import type { ListWatchSource } from './informer.js';
import { httpStatusOf, type KubeRest, type WatchEvent } from './kube-rest.js';

/** The metadata a cache keys and versions objects by. */
interface Keyed {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string };
}

/** Options of a {@link restListWatch}. */
export interface RestListWatchOptions {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

interface Handlers<T> {
  readonly add: ((o: T) => void)[];
  readonly update: ((o: T) => void)[];
  readonly delete: ((o: T) => void)[];
  readonly error: ((e: unknown) => void)[];
}

const keyOf = (o: Keyed): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/**
 * Drops `metadata.managedFields` from an object before it is cached, as controller-runtime's
 * `cache.TransformStripManagedFields` does for the same reason: nothing here reads them, and they
 * are often the larger half of an object (the sandbox's Services: 508 of 954 bytes), kept for
 * every Service, EndpointSlice, Node and Lease on every node. A Lease written back from the
 * cache (a standby's reap) carries none, which leaves the stored ones as they are (an update
 * without managedFields keeps them; only an empty list resets them).
 */
function stripManagedFields(o: Keyed): void {
  const metadata: object | undefined = o.metadata;
  if (metadata !== undefined && 'managedFields' in metadata) delete metadata.managedFields;
}

/**
 * List, then watch from the list's resourceVersion, as client-go's reflector and client-node's
 * ListWatch do: a cache by namespace/name; `add`/`update`/`delete` for what changed (a relist
 * reports the differences); a watch the server ends is resumed from the last resourceVersion
 * (BOOKMARKs advance it); `410 Gone` relists; any other failure is reported on `error` and
 * stops, for the informer to restart with backoff (src/k8s/informer.ts). Objects are the JSON
 * the server sent, typed by the caller (no model classes: docs/speaker.md, "Memory"), without
 * their managedFields.
 */
export function restListWatch<T extends Keyed>(rest: KubeRest, path: string, options: RestListWatchOptions = {}): ListWatchSource<T> {
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

  const upsert = (o: T): void => {
    stripManagedFields(o);
    const key = keyOf(o);
    const old = objects.get(key);
    objects.set(key, o);
    if (old === undefined) for (const h of handlers.add) h(o);
    else if (old.metadata?.resourceVersion !== o.metadata?.resourceVersion) for (const h of handlers.update) h(o);
  };
  const remove = (o: T): void => {
    const key = keyOf(o);
    const old = objects.get(key);
    if (old === undefined) return;
    objects.delete(key);
    for (const h of handlers.delete) h(o);
  };

  const relist = async (signal: AbortSignal): Promise<void> => {
    const query = new URLSearchParams(selectors).toString();
    const list = await rest.request<{ items?: T[]; metadata?: { resourceVersion?: string } }>('GET', query === '' ? path : `${path}?${query}`, undefined, signal);
    const items = list.items ?? [];
    const fresh = new Set(items.map(keyOf));
    for (const [key, old] of [...objects]) if (!fresh.has(key)) remove(old);
    for (const o of items) upsert(o);
    resourceVersion = list.metadata?.resourceVersion ?? '';
  };

  const onEvent = (e: WatchEvent): void => {
    const o = e.object as T & { code?: unknown };
    switch (e.type) {
      case 'ADDED':
      case 'MODIFIED':
        upsert(o);
        break;
      case 'DELETED':
        remove(o);
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
