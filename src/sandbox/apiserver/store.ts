import { randomUUID } from 'node:crypto';
import { clone, meta, str, type JsonObject } from './object.js';

/** What happened to an object, as a watch reports it. */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One change, kept in a bounded per-storage log so that watches can resume from a resourceVersion. */
export interface StoreEvent {
  readonly type: WatchEventType;
  readonly rv: number;
  /** The stored object after the change (for DELETED: the last state, with the delete's RV). */
  readonly object: JsonObject;
  /** The stored object before the change (undefined for ADDED): what a list at an older RV shows. */
  readonly previous: JsonObject | undefined;
}

/** The result of asking for a storage key's objects as they were at a resourceVersion. */
export type ListAt = { readonly kind: 'ok'; readonly items: JsonObject[] } | { readonly kind: 'gone' };

/** The result of asking to watch from a resourceVersion. */
export type WatchStart =
  | { readonly kind: 'ok'; readonly replay: readonly StoreEvent[]; readonly unsubscribe: () => void }
  | { readonly kind: 'gone'; readonly oldest: number };

/** The whole store as persisted to disk: objects and the RV counter. */
export interface StoreSnapshot {
  readonly rv: number;
  readonly objects: Readonly<Record<string, readonly JsonObject[]>>;
}

/** Options of the store. */
export interface StoreOptions {
  /** Events kept per storage key for watch resumption (kube-apiserver's watch cache keeps ~100-1000s). */
  readonly eventLogSize: number;
  readonly now: () => Date;
  readonly newUid?: () => string;
}

interface Bucket {
  // "namespace/name" -> stored object; insertion order is creation order
  readonly objects: Map<string, JsonObject>;
  // oldest first; every event has rv > compactedRv
  log: StoreEvent[];
  // a watch from an RV below this one has missed events: 410 Gone
  compactedRv: number;
  readonly listeners: Set<(event: StoreEvent) => void>;
}

/** The store key of an object: namespace and name. */
export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * Objects by storage key and namespace/name, one cluster-wide resourceVersion counter and a
 * bounded event log per storage key. Writes are O(1) apart from the log trim; lists are O(n)
 * in the objects of one storage key. It holds stored shapes only: conversion, defaulting and
 * validation happen in the request handlers.
 */
export class Store {
  private rv = 0;
  // storage key -> bucket
  private readonly buckets = new Map<string, Bucket>();
  private readonly options: StoreOptions;
  private readonly newUid: () => string;
  /** Called after every write; the server uses it to schedule persistence. */
  onWrite: (() => void) | undefined;

  constructor(options: StoreOptions) {
    this.options = options;
    this.newUid = options.newUid ?? randomUUID;
  }

  /** The current cluster-wide resourceVersion. */
  currentRv(): number {
    return this.rv;
  }

  private bucket(storage: string): Bucket {
    let b = this.buckets.get(storage);
    if (b === undefined) {
      b = { objects: new Map(), log: [], compactedRv: this.rv, listeners: new Set() };
      this.buckets.set(storage, b);
    }
    return b;
  }

  /** Every storage key that has held objects. */
  storages(): string[] {
    return [...this.buckets.keys()];
  }

  /** A copy of one object, or undefined. */
  get(storage: string, namespace: string, name: string): JsonObject | undefined {
    const found = this.bucket(storage).objects.get(objectKey(namespace, name));
    return found === undefined ? undefined : clone(found);
  }

  /**
   * Copies of all objects of a storage key (in one namespace when given), in key order
   * (namespace, then name), the order etcd's range reads and so kube-apiserver's lists have.
   */
  list(storage: string, namespace: string | undefined): JsonObject[] {
    return inKeyOrder(this.bucket(storage).objects, namespace);
  }

  /**
   * The objects of a storage key as they were at `rv` (a list's snapshot, which later pages of a
   * paged list are served from, as kube-apiserver serves them from etcd at the first page's
   * revision): the current objects with every logged change after `rv` undone. `gone` when the
   * log no longer reaches back to `rv` (kube-apiserver: the revision was compacted).
   */
  listAt(storage: string, namespace: string | undefined, rv: number): ListAt {
    const b = this.bucket(storage);
    if (rv >= this.rv) return { kind: 'ok', items: inKeyOrder(b.objects, namespace) };
    if (rv < b.compactedRv) return { kind: 'gone' };
    const then = new Map(b.objects);
    for (let i = b.log.length - 1; i >= 0; i--) {
      const e = b.log[i];
      if (e === undefined || e.rv <= rv) break;
      const key = keyOf(e.object);
      if (e.previous === undefined) then.delete(key);
      else then.set(key, e.previous);
    }
    return { kind: 'ok', items: inKeyOrder(then, namespace) };
  }

  /** Stores a new object: sets uid, creationTimestamp, generation and resourceVersion. The caller checked it does not exist. */
  create(storage: string, obj: JsonObject): JsonObject {
    const m = meta(obj);
    m.uid = this.newUid();
    m.creationTimestamp = this.timestamp();
    if (m.generation === undefined) m.generation = 1;
    return this.put(storage, obj, 'ADDED');
  }

  /** Replaces an existing object with a new resourceVersion. The caller checked preconditions. */
  update(storage: string, obj: JsonObject): JsonObject {
    return this.put(storage, obj, 'MODIFIED');
  }

  /** Removes an object; the DELETED event carries a fresh resourceVersion as on a real server. */
  delete(storage: string, namespace: string, name: string): JsonObject | undefined {
    const b = this.bucket(storage);
    const key = objectKey(namespace, name);
    const old = b.objects.get(key);
    if (old === undefined) return undefined;
    b.objects.delete(key);
    this.rv += 1;
    // A copy: `old` is also the object of an earlier logged event, which keeps its own RV.
    const gone = clone(old);
    meta(gone).resourceVersion = String(this.rv);
    this.emit(b, { type: 'DELETED', rv: this.rv, object: gone, previous: old });
    return clone(gone);
  }

  /**
   * Subscribes to changes after `fromRv`. Events still in the log are returned for replay;
   * when some were already trimmed the answer is `gone` (the client must relist).
   */
  watch(storage: string, fromRv: number, listener: (event: StoreEvent) => void): WatchStart {
    const b = this.bucket(storage);
    if (fromRv < b.compactedRv) return { kind: 'gone', oldest: b.compactedRv };
    const replay = b.log.filter((e) => e.rv > fromRv);
    b.listeners.add(listener);
    return { kind: 'ok', replay, unsubscribe: () => b.listeners.delete(listener) };
  }

  /** Forgets every logged event, so that any watch from an older RV gets 410 (fault injection). */
  compact(): void {
    for (const b of this.buckets.values()) {
      b.log = [];
      b.compactedRv = this.rv;
    }
  }

  /** Everything, for persistence. */
  snapshot(): StoreSnapshot {
    const objects: Record<string, JsonObject[]> = {};
    for (const [storage, b] of this.buckets) objects[storage] = [...b.objects.values()];
    return { rv: this.rv, objects };
  }

  /** Loads a snapshot into an empty store; the event logs start empty at the restored RV. */
  restore(snapshot: StoreSnapshot): void {
    this.rv = snapshot.rv;
    for (const [storage, items] of Object.entries(snapshot.objects)) {
      const b = this.bucket(storage);
      b.compactedRv = this.rv;
      for (const obj of items) b.objects.set(objectKey(str(meta(obj), 'namespace') ?? '', str(meta(obj), 'name') ?? ''), clone(obj));
    }
  }

  private put(storage: string, obj: JsonObject, type: WatchEventType): JsonObject {
    const b = this.bucket(storage);
    this.rv += 1;
    const m = meta(obj);
    m.resourceVersion = String(this.rv);
    const stored = clone(obj);
    const key = keyOf(stored);
    const previous = b.objects.get(key);
    b.objects.set(key, stored);
    this.emit(b, { type, rv: this.rv, object: stored, previous });
    return clone(stored);
  }

  private emit(b: Bucket, event: StoreEvent): void {
    b.log.push(event);
    // Trim in batches so that a write stays O(1) amortised.
    if (b.log.length > this.options.eventLogSize * 2) {
      const drop = b.log.length - this.options.eventLogSize;
      b.compactedRv = b.log[drop - 1]?.rv ?? b.compactedRv;
      b.log = b.log.slice(drop);
    }
    for (const listener of b.listeners) listener(event);
    this.onWrite?.();
  }

  /** The server's time now, as metav1.Time serialises it (RFC 3339 without fractions). */
  timestamp(): string {
    return this.options.now().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
}

/** The store key of a stored object. */
function keyOf(obj: JsonObject): string {
  const m = meta(obj);
  return objectKey(str(m, 'namespace') ?? '', str(m, 'name') ?? '');
}

/** Copies of the objects (in one namespace when given), sorted by key: by code unit, as etcd compares key bytes (names are ASCII). */
function inKeyOrder(objects: ReadonlyMap<string, JsonObject>, namespace: string | undefined): JsonObject[] {
  const keys = [...objects.keys()].filter((k) => namespace === undefined || k.startsWith(`${namespace}/`)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return keys.flatMap((k) => {
    const obj = objects.get(k);
    return obj === undefined ? [] : [clone(obj)];
  });
}
