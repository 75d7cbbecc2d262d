import { randomBytes } from 'node:crypto';
import type { Admission } from './admission.js';
import type { FieldManager, FieldOptions } from './field-manager.js';
import { dependentsOf, directDependents, propagationPolicyOf, withoutOwner, type PropagationPolicy, type StoredObject } from './garbage.js';
import { nodeLeaseLive, nodeLeaseNamespace, podDeletion, requestedGracePeriod, type PodDeletion } from './graceful-delete.js';
import { keepEquivalentManagedFields } from './managed-fields.js';
import { child, clone, isObject, jsonEqual, list, meta, str, type JsonObject } from './object.js';
import { applyPatch, type PatchType } from './patch.js';
import { replicasOf, scaleResourceVersion, toScale } from './scale.js';
import { apiVersionOf, type ResourceDef } from './resources.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { ApiStatusError, alreadyExists, conflict, invalid, notFound, successStatus } from './status.js';
import { objectKey, type Store } from './store.js';
import type { ResourceTarget } from './request-path.js';

/** List options of a collection request. */
export interface ListQuery {
  readonly labelSelector: string | null;
  readonly fieldSelector: string | null;
  readonly limit: number;
  readonly continueToken: string | null;
  /** `resourceVersion` (absent, empty or "0": none) and whether `resourceVersionMatch=Exact` asks for exactly it. */
  readonly resourceVersion?: { readonly rv: number; readonly exact: boolean };
}

/** A list result: wire objects plus paging. */
export interface ListResult {
  readonly items: JsonObject[];
  readonly resourceVersion: string;
  readonly continueToken: string | undefined;
  readonly remaining: number | undefined;
}

/**
 * Resources whose updates must carry metadata.resourceVersion (kube-apiserver's
 * AllowUnconditionalUpdate is false for them).
 */
const conditionalOnly = new Set(['/services']);

/** Storage keys of Pods (deleted gracefully) and of Leases (a node's kubelet renews one). */
const podStorage = '/pods';
const leaseStorage = 'coordination.k8s.io/leases';

// kube-apiserver's generateName suffix alphabet (no vowels, no confusable digits)
const alphabet = 'bcdfghjklmnpqrstvwxz2456789';

function randomSuffix(): string {
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
}

/** The field options of one write, and where its `Warning`s go. */
export interface FieldRequest extends FieldOptions {
  readonly warnings: string[];
}

/** Field options for writes that give none: Warn (kube-apiserver's default), no manager name. */
export function defaultFieldRequest(): FieldRequest {
  return { fieldValidation: 'Warn', fieldManager: '', force: false, warnings: [] };
}

/** The wire form of a stored object: converted to the def's version, with apiVersion and kind. */
export function toWire(def: ResourceDef, stored: JsonObject): JsonObject {
  const out = def.toWire(stored);
  out.apiVersion = apiVersionOf(def);
  out.kind = def.kind;
  return out;
}

/** The object CRUD of one server: conversion, admission, metadata and concurrency rules over a Store. */
export class ObjectHandler {
  constructor(
    private readonly store: Store,
    private readonly admission: ReadonlyMap<string, Admission>,
    /** Field validation and managed fields; absent: writes are neither checked nor tracked. */
    private readonly fields?: FieldManager,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get(t: ResourceTarget): JsonObject {
    if (t.subresource === 'scale') return toScale(this.mustGet(t));
    return toWire(t.def, this.mustGet(t));
  }

  /**
   * A list, in key order. Paged (`limit`) as kube-apiserver pages from etcd: every page is cut
   * from the snapshot at the first page's resourceVersion, so objects written between pages
   * neither appear twice nor go missing; the continue token carries that resourceVersion and the
   * key to start from. Once the store's log no longer reaches back to it: 410 Expired, with a
   * token in the Status that goes on at the newest state.
   */
  list(t: ResourceTarget, q: ListQuery): ListResult {
    const labels = parseLabelSelector(q.labelSelector);
    const fields = parseFieldSelector(q.fieldSelector);
    const from = q.continueToken === null ? { rv: -1, start: '' } : decodeContinue(q.continueToken);
    const rv = from.rv < 0 ? requestedRv(q, this.store.currentRv()) : from.rv;
    const listed = this.store.listAt(t.def.storage, t.namespace === '' ? undefined : t.namespace, rv);
    if (listed.kind === 'gone' && q.continueToken === null) throw new ApiStatusError('Expired', 'The resourceVersion for the provided list is too old.');
    if (listed.kind === 'gone') throw new ApiStatusError('Expired', expiredContinueMessage, undefined, encodeContinue(-1, from.start));
    const after = listed.items.filter((o) => storeKey(o) >= from.start);
    return page(after.map((o) => toWire(t.def, o)).filter((o) => labels(o) && fields(o)), q, rv);
  }

  /** POST to a collection. `dryRun` validates and defaults without storing. */
  create(t: ResourceTarget, body: unknown, dryRun: boolean, req: FieldRequest = defaultFieldRequest()): JsonObject {
    if (t.subresource === 'binding') return this.bind(t, body, dryRun);
    const wire = this.checkBody(t, body);
    req.warnings.push(...(this.fields?.validate(t.def, wire, req, 'create') ?? []));
    return this.createObject(t, t.def.fromWire(wire), dryRun, (admitted) => {
      this.track(t, undefined, admitted, req.fieldManager);
    });
  }

  private createObject(t: ResourceTarget, obj: JsonObject, dryRun: boolean, track: (admitted: JsonObject) => void): JsonObject {
    const name = nameForCreate(t, obj);
    this.requireNamespace(t);
    if (this.store.get(t.def.storage, t.namespace, name) !== undefined) throw alreadyExists(t.def.plural, t.def.group, name);
    resetForCreate(t, obj);
    const admitted = this.admit(t, obj, undefined);
    track(admitted);
    if (dryRun) return toWire(t.def, admitted);
    return toWire(t.def, this.store.create(t.def.storage, admitted));
  }

  /**
   * Server-side apply (`application/apply-patch+yaml`): creates the object when it does not
   * exist, else merges the configuration into it; `created` tells which.
   */
  apply(t: ResourceTarget, body: unknown, dryRun: boolean, req: FieldRequest): { readonly object: JsonObject; readonly created: boolean } {
    if (this.fields === undefined) throw new ApiStatusError('UnsupportedMediaType', 'server-side apply is not enabled on this server');
    const config = this.checkBody(t, body);
    const name = str(child(config, 'metadata'), 'name') ?? '';
    if (name !== t.name) throw new ApiStatusError('BadRequest', `the name of the object (${name}) does not match the name on the URL (${t.name})`);
    const live = this.store.get(t.def.storage, t.namespace, t.name);
    const now = this.now();
    if (live === undefined) {
      if (t.subresource !== '') throw notFound(t.def.plural, t.def.group, t.name);
      const merged = this.fields.apply(t.def, '', undefined, config, req, now);
      return { object: this.createObject(t, t.def.fromWire(merged), dryRun, () => undefined), created: true };
    }
    const merged = this.fields.apply(t.def, t.subresource, toWire(t.def, live), config, req, now);
    const rv = str(child(config, 'metadata'), 'resourceVersion');
    return { object: this.replace(t, t.def.fromWire(merged), rv, dryRun, () => undefined), created: false };
  }

  /** Records a non-apply write in `metadata.managedFields` (computed on the wire shape of the def written). */
  private track(t: ResourceTarget, old: JsonObject | undefined, next: JsonObject, manager: string): void {
    if (this.fields === undefined) return;
    const wire = toWire(t.def, next);
    this.fields.track(t.def, t.subresource, old === undefined ? undefined : toWire(t.def, old), wire, manager, this.now());
    const entries = meta(wire).managedFields;
    if (entries === undefined) Reflect.deleteProperty(meta(next), 'managedFields');
    else meta(next).managedFields = entries;
  }

  /** PUT of an object or its status. */
  update(t: ResourceTarget, body: unknown, dryRun: boolean, req: FieldRequest = defaultFieldRequest()): JsonObject {
    if (t.subresource === 'scale') return this.scale(t, body, scaleResourceVersion(body), dryRun, req);
    const wire = this.checkBody(t, body);
    req.warnings.push(...(this.fields?.validate(t.def, wire, req, 'update') ?? []));
    const name = str(child(wire, 'metadata'), 'name') ?? '';
    if (name !== t.name) {
      throw new ApiStatusError('BadRequest', `the name of the object (${name}) does not match the name on the URL (${t.name})`);
    }
    const rv = str(child(wire, 'metadata'), 'resourceVersion');
    if (rv === undefined && conditionalOnly.has(t.def.storage) && t.subresource === '') {
      throw invalid(t.def.kind, t.def.group, name, [{ reason: 'FieldValueInvalid', field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' }]);
    }
    return this.replace(t, t.def.fromWire(wire), rv, dryRun, (old, next) => {
      this.track(t, old, next, req.fieldManager);
    });
  }

  /** PATCH of an object or its status. */
  patch(t: ResourceTarget, type: Exclude<PatchType, 'apply'>, body: unknown, dryRun: boolean, req: FieldRequest = defaultFieldRequest()): JsonObject {
    const current = this.get(t);
    const patched = applyPatch(type, current, body);
    req.warnings.push(...(this.fields?.validate(t.def, patched, req, 'patch') ?? []));
    const rv = str(child(patched, 'metadata'), 'resourceVersion');
    // A patch is unconditional unless it names a resourceVersion itself.
    const precondition = rv !== undefined && rv !== str(child(current, 'metadata'), 'resourceVersion') ? rv : undefined;
    if (t.subresource === 'scale') return this.scale(t, patched, precondition, dryRun, req);
    return this.replace(t, t.def.fromWire(patched), precondition, dryRun, (old, next) => {
      this.track(t, old, next, req.fieldManager);
    });
  }

  /**
   * POST pods/<name>/binding: assigns the Pod to a node once, and marks it PodScheduled, as
   * kube-apiserver's BindingREST (assignPod) does.
   */
  private bind(t: ResourceTarget, body: unknown, dryRun: boolean): JsonObject {
    const target = isObject(body) ? child(body, 'target') : {};
    const node = str(target, 'name') ?? '';
    if (node === '') throw invalid('Binding', '', t.name, [{ reason: 'FieldValueRequired', field: 'target.name', message: 'Required value' }]);
    const pod = this.mustGet(t);
    const spec = child(pod, 'spec');
    const bound = str(spec, 'nodeName');
    if (bound !== undefined && bound !== '') {
      throw new ApiStatusError('Conflict', `Operation cannot be fulfilled on pods/binding "${t.name}": pod ${t.name} is already assigned to node "${bound}"`, { name: t.name, kind: 'pods/binding' });
    }
    pod.spec = { ...spec, nodeName: node };
    const status = child(pod, 'status');
    const others = list(status, 'conditions').filter((c) => !isObject(c) || c.type !== 'PodScheduled');
    pod.status = { ...status, conditions: [...others, { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: this.store.timestamp() }] };
    if (!dryRun) this.store.update(t.def.storage, pod);
    return successStatus();
  }

  /**
   * The Pod and container a GET pods/<name>/log names, checked as kube-apiserver checks them
   * (the container choice, a host assigned); pod-log.ts serves the log itself.
   */
  logTarget(t: ResourceTarget, container: string | null): { readonly pod: JsonObject; readonly container: string } {
    const pod = this.mustGet(t);
    const spec = child(pod, 'spec');
    const names = list(spec, 'containers').flatMap((c) => (isObject(c) && typeof c.name === 'string' ? [c.name] : []));
    const chosen = container ?? (names.length === 1 ? names[0] : undefined);
    if (chosen === undefined) throw new ApiStatusError('BadRequest', `a container name must be specified for pod ${t.name}, choose one of: [${names.join(' ')}]`);
    if (!names.includes(chosen)) throw new ApiStatusError('BadRequest', `container ${chosen} is not valid for pod ${t.name}`);
    if ((str(spec, 'nodeName') ?? '') === '') throw new ApiStatusError('BadRequest', `pod ${t.name} does not have a host assigned`);
    return { pod, container: chosen };
  }

  /** A write of the scale subresource: sets spec.replicas of the object, returns its new Scale. */
  private scale(t: ResourceTarget, scale: unknown, rv: string | undefined, dryRun: boolean, req: FieldRequest): JsonObject {
    const replicas = replicasOf(scale, t.name);
    const next = this.mustGet(t);
    next.spec = { ...child(next, 'spec'), replicas };
    return toScale(this.replace({ ...t, subresource: '' }, next, rv, dryRun, (old, updated) => {
      this.track({ ...t, subresource: '' }, old, updated, req.fieldManager);
    }));
  }

  /**
   * DELETE of one object; a `preconditions.resourceVersion` or `.uid` in the body must match. A
   * dry run (`dryRun=All` in the query or in the DeleteOptions) checks and deletes nothing.
   * Dependents go as `propagation` (query) or the DeleteOptions' propagationPolicy says.
   */
  delete(t: ResourceTarget, body: unknown, dryRun = false, propagation: string | null = null, gracePeriod: string | null = null): JsonObject {
    const current = this.mustGet(t);
    checkPreconditions(t, current, body);
    const policy = propagationPolicyOf(body, propagation);
    const deletion = this.deletionOf(t.def.storage, current, requestedGracePeriod(body, gracePeriod));
    if (dryRun || isDryRunBody(body)) return toWire(t.def, deletion.kind === 'mark' ? markDeleted(current, deletion) : current);
    // A graceful Pod deletion returns the Pod, still stored, as kube-apiserver does (200).
    if (deletion.kind === 'pending') return toWire(t.def, current);
    if (deletion.kind === 'mark') return toWire(t.def, this.store.update(t.def.storage, markDeleted(current, deletion)));
    if (t.def.plural === 'namespaces') this.deleteNamespaceContents(t.name);
    return toWire(t.def, this.deleteWithDependents(t, current, policy));
  }

  /**
   * How a DELETE goes: Pods gracefully (graceful-delete.ts), judging their node's kubelet by its
   * Lease in kube-node-lease; every other kind at once.
   */
  private deletionOf(storage: string, current: JsonObject, requested: number | undefined): PodDeletion {
    if (storage !== podStorage) return { kind: 'now' };
    const node = str(child(current, 'spec'), 'nodeName') ?? '';
    const lease = node === '' ? undefined : this.store.get(leaseStorage, nodeLeaseNamespace, node);
    return podDeletion(current, requested, nodeLeaseLive(lease, this.now()), this.now());
  }

  /**
   * Foreground deletes the dependents before the owner; Background right after it; Orphan strips
   * the owner from them. All before the reply here, where the real collector works asynchronously.
   */
  private deleteWithDependents(t: ResourceTarget, current: JsonObject, policy: PropagationPolicy): JsonObject {
    const dependents = policy === 'Orphan' ? [] : dependentsOf(current, this.candidates(t));
    if (policy === 'Foreground') this.deleteAll(dependents);
    if (policy === 'Orphan') this.orphan(current, this.candidates(t));
    const gone = this.store.delete(t.def.storage, t.namespace, t.name) ?? current;
    this.admission.get(t.def.storage)?.deleted(gone);
    if (policy === 'Background') this.deleteAll(dependents);
    return gone;
  }

  /** Objects that may name the target as owner: its namespace's objects, or all for cluster-scoped owners. */
  private candidates(t: ResourceTarget): StoredObject[] {
    const ns = t.def.namespaced ? t.namespace : undefined;
    return this.store.storages().flatMap((storage) => this.store.list(storage, ns).map((obj) => ({ storage, obj })));
  }

  /** Deletes dependents as the garbage collector does: with default options, so Pods gracefully. */
  private deleteAll(objects: readonly StoredObject[]): void {
    for (const { storage, obj } of objects) {
      const m = meta(obj);
      const deletion = this.deletionOf(storage, obj, undefined);
      if (deletion.kind === 'mark') this.store.update(storage, markDeleted(obj, deletion));
      if (deletion.kind !== 'now') continue;
      const gone = this.store.delete(storage, str(m, 'namespace') ?? '', str(m, 'name') ?? '');
      if (gone !== undefined) this.admission.get(storage)?.deleted(gone);
    }
  }

  private orphan(owner: JsonObject, all: readonly StoredObject[]): void {
    const uid = str(meta(owner), 'uid') ?? '';
    for (const { storage, obj } of directDependents(owner, all)) this.store.update(storage, withoutOwner(obj, uid));
  }

  /** DELETE of a collection (with selectors). */
  deleteCollection(t: ResourceTarget, q: ListQuery): ListResult {
    const result = this.list(t, { ...q, limit: 0, continueToken: null });
    for (const item of result.items) {
      const m = child(item, 'metadata');
      this.delete({ ...t, namespace: str(m, 'namespace') ?? '', name: str(m, 'name') ?? '' }, undefined);
    }
    return { ...result, resourceVersion: String(this.store.currentRv()) };
  }

  private replace(t: ResourceTarget, incoming: JsonObject, rv: string | undefined, dryRun: boolean, track: (old: JsonObject, next: JsonObject) => void): JsonObject {
    const old = this.mustGet(t);
    if (rv !== undefined && rv !== str(meta(old), 'resourceVersion')) throw conflict(t.def.plural, t.def.group, t.name);
    const next = t.subresource === 'status' ? { ...old, metadata: { ...meta(old) }, status: incoming.status } : mainResourceUpdate(t, old, incoming);
    carryMetadata(t, old, next);
    keepEquivalentManagedFields(old, next);
    const admitted = t.subresource === 'status' ? next : this.admit(t, next, old);
    bumpGeneration(t, old, admitted);
    // A write that changes nothing is not stored and keeps its resourceVersion, as on a real server.
    if (jsonEqual(old, admitted)) return toWire(t.def, admitted);
    track(old, admitted);
    if (dryRun) return toWire(t.def, admitted);
    return toWire(t.def, this.store.update(t.def.storage, admitted));
  }

  private admit(t: ResourceTarget, obj: JsonObject, old: JsonObject | undefined): JsonObject {
    const hooks = this.admission.get(t.def.storage);
    return hooks === undefined ? obj : hooks.admit(obj, old);
  }

  private mustGet(t: ResourceTarget): JsonObject {
    const found = this.store.get(t.def.storage, t.namespace, t.name);
    if (found === undefined) throw notFound(t.def.plural, t.def.group, t.name);
    return found;
  }

  private requireNamespace(t: ResourceTarget): void {
    if (!t.def.namespaced) return;
    if (this.store.get('/namespaces', '', t.namespace) === undefined) throw notFound('namespaces', '', t.namespace);
  }

  private checkBody(t: ResourceTarget, body: unknown): JsonObject {
    if (!isObject(body)) throw new ApiStatusError('BadRequest', 'the request body must be a JSON object');
    const kind = str(body, 'kind');
    if (kind !== undefined && kind !== t.def.kind) {
      throw new ApiStatusError('BadRequest', `the API version in the data (${str(body, 'apiVersion') ?? ''}) does not match the expected API version (${apiVersionOf(t.def)})`);
    }
    const ns = str(child(body, 'metadata'), 'namespace');
    if (t.def.namespaced && ns !== undefined && ns !== '' && ns !== t.namespace) {
      throw new ApiStatusError('BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    // Stored objects always carry the type of the version they were written in.
    return { ...clone(body), apiVersion: apiVersionOf(t.def), kind: t.def.kind };
  }

  private deleteNamespaceContents(namespace: string): void {
    for (const storage of this.store.storages()) {
      if (storage === '/namespaces') continue;
      for (const obj of this.store.list(storage, namespace)) {
        const gone = this.store.delete(storage, namespace, str(meta(obj), 'name') ?? '');
        if (gone !== undefined) this.admission.get(storage)?.deleted(gone);
      }
    }
  }
}

/** The name of a new object, generated from generateName when needed; sets its namespace. */
function nameForCreate(t: ResourceTarget, obj: JsonObject): string {
  const m = meta(obj);
  const generateName = str(m, 'generateName');
  if (str(m, 'name') === undefined && generateName !== undefined) m.name = `${generateName}${randomSuffix()}`;
  const name = str(m, 'name') ?? '';
  if (name === '') throw invalid(t.def.kind, t.def.group, '', [{ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
  if (t.def.namespaced) m.namespace = t.namespace;
  else Reflect.deleteProperty(m, 'namespace');
  return name;
}

/** Drops what the server owns on create: identity, timestamps and (for Services) status. */
function resetForCreate(t: ResourceTarget, obj: JsonObject): void {
  const m = meta(obj);
  for (const key of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds']) Reflect.deleteProperty(m, key);
  if (t.def.plural === 'services') Reflect.deleteProperty(obj, 'status');
  if (t.def.plural === 'namespaces') obj.status = { phase: 'Active' };
}

/** Keeps identity across an update; only a DELETE sets or changes the deletion fields. */
function carryMetadata(t: ResourceTarget, old: JsonObject, next: JsonObject): void {
  const oldMeta = meta(old);
  const m = meta(next);
  for (const key of ['uid', 'creationTimestamp', 'namespace', 'name', 'generation']) {
    if (oldMeta[key] !== undefined) m[key] = oldMeta[key];
  }
  for (const key of ['deletionTimestamp', 'deletionGracePeriodSeconds']) {
    if (oldMeta[key] === undefined) Reflect.deleteProperty(m, key);
    else m[key] = oldMeta[key];
  }
  m.resourceVersion = oldMeta.resourceVersion;
}

/** The object marked for graceful deletion (generation bumped the first time, as BeforeDelete does). */
function markDeleted(obj: JsonObject, d: Extract<PodDeletion, { kind: 'mark' }>): JsonObject {
  const m: JsonObject = { ...meta(obj), deletionTimestamp: d.deletionTimestamp, deletionGracePeriodSeconds: d.gracePeriodSeconds };
  if (d.bumpGeneration && typeof m.generation === 'number') m.generation += 1;
  return { ...obj, metadata: m };
}

/**
 * Bumps generation when the spec changed, judged after defaulting as kube-apiserver's strategies
 * do (a field a server-side apply prunes and admission defaults again is no change).
 */
function bumpGeneration(t: ResourceTarget, old: JsonObject, next: JsonObject): void {
  if (t.subresource === '' && !jsonEqual(old.spec, next.spec)) meta(next).generation = Number(meta(old).generation ?? 1) + 1;
}

/** Writes to the main resource keep the stored status (the status subresource owns it). */
function mainResourceUpdate(t: ResourceTarget, old: JsonObject, incoming: JsonObject): JsonObject {
  const next = clone(incoming);
  if (t.def.hasStatus) {
    if (old.status === undefined) Reflect.deleteProperty(next, 'status');
    else next.status = old.status;
  }
  return next;
}

/** DeleteOptions with `dryRun: ["All"]`. */
function isDryRunBody(body: unknown): boolean {
  return isObject(body) && Array.isArray(body.dryRun) && body.dryRun.includes('All');
}

function checkPreconditions(t: ResourceTarget, current: JsonObject, body: unknown): void {
  if (!isObject(body)) return;
  const pre = child(body, 'preconditions');
  const m = meta(current);
  const rv = str(pre, 'resourceVersion');
  const uid = str(pre, 'uid');
  if ((rv !== undefined && rv !== str(m, 'resourceVersion')) || (uid !== undefined && uid !== str(m, 'uid'))) {
    throw conflict(t.def.plural, t.def.group, t.name);
  }
}

/** Items of a list carry no apiVersion/kind on a real server; code must not depend on them. */
function stripTypeMeta(item: JsonObject): void {
  Reflect.deleteProperty(item, 'apiVersion');
  Reflect.deleteProperty(item, 'kind');
}

/**
 * The resourceVersion a first page is listed at: the one asked for with `resourceVersionMatch=Exact`,
 * else the newest (which is not older than any asked for). One newer than the store's is refused
 * as kube-apiserver refuses it once its wait for it runs out (504 Timeout; it waits up to 3 s, and
 * this store's newest state is already all there is).
 */
function requestedRv(q: ListQuery, current: number): number {
  const asked = q.resourceVersion;
  if (asked === undefined) return current;
  if (asked.rv > current) {
    throw new ApiStatusError('Timeout', `Timeout: Too large resource version: ${String(asked.rv)}, current: ${String(current)}`);
  }
  return asked.exact ? asked.rv : current;
}

/** The first `q.limit` of the matching objects (all without a limit), with what the next page needs. */
function page(matching: JsonObject[], q: ListQuery, rv: number): ListResult {
  const items = q.limit > 0 ? matching.slice(0, q.limit) : matching;
  for (const item of items) stripTypeMeta(item);
  const last = items.at(-1);
  const more = last !== undefined && items.length < matching.length;
  const selected = (q.labelSelector ?? '') !== '' || (q.fieldSelector ?? '') !== '';
  return {
    items,
    resourceVersion: String(rv),
    // The next key after the last one returned (a NUL sorts before every other character).
    continueToken: more ? encodeContinue(rv, `${storeKey(last)}\u0000`) : undefined,
    // kube-apiserver leaves the count out when a selector makes it unknown (ListMeta.remainingItemCount).
    remaining: more && !selected ? matching.length - items.length : undefined,
  };
}

/** kube-apiserver's message when a continue token's resourceVersion was compacted. */
const expiredContinueMessage =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

/** The store key of a wire object (namespace/name), what the continue token's `start` is compared with. */
function storeKey(obj: JsonObject): string {
  return objectKey(str(meta(obj), 'namespace') ?? '', str(meta(obj), 'name') ?? '');
}

/**
 * A continue token shaped as kube-apiserver's (base64url JSON of `v`, `rv`, `start`; rv -1: go on
 * at the newest state). Opaque to clients, as there.
 */
function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start })).toString('base64url');
}

function decodeContinue(token: string): { readonly rv: number; readonly start: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (isObject(parsed) && parsed.v === 'meta.k8s.io/v1' && typeof parsed.rv === 'number' && Number.isSafeInteger(parsed.rv) && parsed.rv !== 0 && typeof parsed.start === 'string') {
      return { rv: parsed.rv, start: parsed.start };
    }
  } catch {
    // fall through to the error below
  }
  throw new ApiStatusError('BadRequest', 'continue key is not valid');
}
