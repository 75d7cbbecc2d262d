import { child, isObject, list, meta, str, type JsonObject } from './object.js';
import { ApiStatusError } from './status.js';

/**
 * Garbage collection by ownerReferences, as kube-controller-manager's garbage collector does it
 * (https://kubernetes.io/docs/concepts/architecture/garbage-collection/), decided here as pure
 * functions over the objects in the store; the object handler carries the decisions out.
 */

/** metav1.DeletionPropagation. */
export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';

const policies: readonly PropagationPolicy[] = ['Background', 'Foreground', 'Orphan'];

/** One stored object and where it lives. */
export interface StoredObject {
  readonly storage: string;
  readonly obj: JsonObject;
}

/**
 * The propagation policy of a delete: DeleteOptions.propagationPolicy (body, else query), the
 * deprecated `orphanDependents`, else Background (the default of every kind served here).
 */
export function propagationPolicyOf(body: unknown, query: string | null): PropagationPolicy {
  const given = isObject(body) ? (body.propagationPolicy ?? (body.orphanDependents === true ? 'Orphan' : undefined)) : undefined;
  const value = given ?? query ?? 'Background';
  if (typeof value === 'string' && (policies as readonly string[]).includes(value)) return value as PropagationPolicy;
  throw new ApiStatusError('BadRequest', `DeleteOptions.propagationPolicy: Unsupported value: ${JSON.stringify(value)}: supported values: "Foreground", "Background", "Orphan"`);
}

/** The uids an object names in metadata.ownerReferences. */
export function ownerUids(obj: JsonObject): string[] {
  return list(meta(obj), 'ownerReferences')
    .filter(isObject)
    .flatMap((r) => {
      const uid = str(r, 'uid');
      return uid === undefined ? [] : [uid];
    });
}

/**
 * Every object that depends on `owner`, directly or through other dependents, children before
 * their parents (the order a cascade deletes in). An object with another owner that is still
 * present stays: the collector deletes a dependent only when none of its owners remain.
 */
export function dependentsOf(owner: JsonObject, all: readonly StoredObject[]): StoredObject[] {
  const gone = new Set<string>([str(meta(owner), 'uid') ?? '']);
  const present = new Set(all.map((o) => str(meta(o.obj), 'uid') ?? ''));
  const out: StoredObject[] = [];
  let grew = true;
  while (grew) {
    grew = false;
    for (const o of all) {
      const uid = str(meta(o.obj), 'uid') ?? '';
      const owners = ownerUids(o.obj);
      if (gone.has(uid) || owners.length === 0 || !owners.some((u) => gone.has(u))) continue;
      if (owners.some((u) => !gone.has(u) && present.has(u))) continue;
      gone.add(uid);
      out.push(o);
      grew = true;
    }
  }
  return out.reverse();
}

/** The direct dependents of `owner` (for Orphan). */
export function directDependents(owner: JsonObject, all: readonly StoredObject[]): StoredObject[] {
  const uid = str(meta(owner), 'uid') ?? '';
  return all.filter((o) => ownerUids(o.obj).includes(uid));
}

/** `obj` without its ownerReferences to `ownerUid` (what Orphan leaves behind). */
export function withoutOwner(obj: JsonObject, ownerUid: string): JsonObject {
  const m = { ...child(obj, 'metadata') };
  const refs = list(m, 'ownerReferences').filter((r) => !isObject(r) || r.uid !== ownerUid);
  if (refs.length === 0) Reflect.deleteProperty(m, 'ownerReferences');
  else m.ownerReferences = refs;
  return { ...obj, metadata: m };
}
