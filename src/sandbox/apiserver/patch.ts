import { ApiStatusError } from './status.js';
import { clone, isObject, jsonEqual, removeKey, type JsonObject } from './object.js';

/** The patch media types kube-apiserver accepts; `apply` is server-side apply, handled apart from the others. */
export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

/** Maps a request Content-Type to a patch type, or undefined when unsupported. */
export function patchTypeOf(contentType: string | undefined): PatchType | undefined {
  const base = (contentType ?? '').split(';')[0]?.trim();
  if (base === 'application/merge-patch+json') return 'merge';
  if (base === 'application/json-patch+json') return 'json';
  if (base === 'application/strategic-merge-patch+json') return 'strategic';
  if (base === 'application/apply-patch+yaml') return 'apply';
  return undefined;
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) removeKey(out, key);
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new ApiStatusError('BadRequest', `json patch: invalid path "${pointer}"`);
  return pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolveParent(doc: unknown, parts: readonly string[], path: string): { parent: JsonObject | unknown[]; key: string } {
  let current: unknown = doc;
  for (const part of parts.slice(0, -1)) {
    current = Array.isArray(current) ? current[Number(part)] : isObject(current) ? current[part] : undefined;
    if (current === undefined) throw new ApiStatusError('Invalid', `json patch: path "${path}" does not exist`);
  }
  if (!Array.isArray(current) && !isObject(current)) throw new ApiStatusError('Invalid', `json patch: path "${path}" does not exist`);
  return { parent: current, key: parts[parts.length - 1] ?? '' };
}

function readAt(doc: unknown, path: string): unknown {
  const parts = decodePointer(path);
  if (parts.length === 0) return doc;
  const { parent, key } = resolveParent(doc, parts, path);
  const value = Array.isArray(parent) ? parent[Number(key)] : parent[key];
  if (value === undefined) throw new ApiStatusError('Invalid', `json patch: path "${path}" does not exist`);
  return value;
}

function addAt(doc: unknown, path: string, value: unknown): unknown {
  const parts = decodePointer(path);
  if (parts.length === 0) return value;
  const { parent, key } = resolveParent(doc, parts, path);
  if (!Array.isArray(parent)) {
    parent[key] = value;
    return doc;
  }
  const index = key === '-' ? parent.length : Number(key);
  if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new ApiStatusError('Invalid', `json patch: index out of range at "${path}"`);
  parent.splice(index, 0, value);
  return doc;
}

function removeAt(doc: unknown, path: string): unknown {
  readAt(doc, path);
  const parts = decodePointer(path);
  const { parent, key } = resolveParent(doc, parts, path);
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else removeKey(parent, key);
  return doc;
}

function applyOperation(doc: unknown, op: JsonObject): unknown {
  const path = typeof op.path === 'string' ? op.path : '';
  const from = typeof op.from === 'string' ? op.from : '';
  switch (op.op) {
    case 'add':
      return addAt(doc, path, clone(op.value));
    case 'remove':
      return removeAt(doc, path);
    case 'replace':
      return addAt(removeAt(doc, path), path, clone(op.value));
    case 'move': {
      const value = readAt(doc, from);
      return addAt(removeAt(doc, from), path, value);
    }
    case 'copy':
      return addAt(doc, path, clone(readAt(doc, from)));
    case 'test':
      if (!jsonEqual(readAt(doc, path), op.value)) throw new ApiStatusError('Invalid', `json patch: test failed at "${path}"`);
      return doc;
    default:
      throw new ApiStatusError('BadRequest', `json patch: unknown op ${JSON.stringify(op.op)}`);
  }
}

/** RFC 6902 JSON patch. */
export function jsonPatch(target: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) throw new ApiStatusError('BadRequest', 'json patch: the body must be an array of operations');
  let doc = clone(target);
  for (const op of patch) {
    if (!isObject(op)) throw new ApiStatusError('BadRequest', 'json patch: every operation must be an object');
    doc = applyOperation(doc, op);
  }
  return doc;
}

/**
 * Lists merged by key under strategic merge patch, by dotted path (from the `patchMergeKey`
 * tags of k8s.io/api). Lists not named here are replaced, as for lists without a merge key.
 */
const mergeKeys: ReadonlyMap<string, string> = new Map([
  ['spec.ports', 'port'],
  ['metadata.ownerReferences', 'uid'],
  ['status.conditions', 'type'],
  ['status.addresses', 'type'],
  ['spec.taints', 'key'],
]);

/** Lists of primitives that strategic merge treats as sets (`patchStrategy:"merge"`). */
const mergedPrimitiveLists: ReadonlySet<string> = new Set(['metadata.finalizers']);

function mergeKeyedList(path: string, key: string, target: readonly unknown[], patch: readonly unknown[]): unknown[] {
  const out = target.map((item) => clone(item));
  if (patch.some((item) => isObject(item) && item.$patch === 'replace')) {
    return patch.filter((item) => !(isObject(item) && item.$patch === 'replace')).map((item) => clone(item));
  }
  for (const item of patch) {
    if (!isObject(item)) continue;
    const index = out.findIndex((o) => isObject(o) && jsonEqual(o[key], item[key]));
    if (item.$patch === 'delete') {
      if (index >= 0) out.splice(index, 1);
    } else if (index >= 0) {
      out[index] = strategicMerge(out[index], item, path);
    } else {
      out.push(strategicMerge({}, item, path));
    }
  }
  return out;
}

function mergeList(path: string, target: unknown, patch: readonly unknown[]): unknown {
  const key = mergeKeys.get(path);
  const current: readonly unknown[] = Array.isArray(target) ? (target as unknown[]) : [];
  if (key !== undefined) return mergeKeyedList(path, key, current, patch);
  if (mergedPrimitiveLists.has(path)) return [...new Set<unknown>([...current, ...patch])];
  return clone(patch);
}

function applyDirectives(out: JsonObject, patch: JsonObject): void {
  const retain = patch.$retainKeys;
  if (Array.isArray(retain)) {
    for (const key of Object.keys(out)) if (!retain.includes(key)) removeKey(out, key);
  }
  for (const [key, value] of Object.entries(patch)) {
    if (!key.startsWith('$deleteFromPrimitiveList/') || !Array.isArray(value)) continue;
    const field = key.slice('$deleteFromPrimitiveList/'.length);
    const current = out[field];
    if (Array.isArray(current)) out[field] = current.filter((v) => !value.includes(v));
  }
}

/**
 * Strategic merge patch for the fields kubectl touches on Services, ConfigMaps, Leases and Nodes:
 * maps merge, keyed lists merge by their key (`spec.ports` by `port`), other lists are replaced;
 * the `$patch`, `$retainKeys`, `$deleteFromPrimitiveList` directives are honoured and
 * `$setElementOrder` is accepted (order is kept as stored).
 */
export function strategicMerge(target: unknown, patch: unknown, path = ''): unknown {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === 'delete') return undefined;
  const base: JsonObject = patch.$patch === 'replace' || !isObject(target) ? {} : clone(target);
  applyDirectives(base, patch);
  for (const [key, value] of Object.entries(patch)) {
    if (!key.startsWith('$')) mergeField(base, key, value, path === '' ? key : `${path}.${key}`);
  }
  return base;
}

function mergeField(base: JsonObject, key: string, value: unknown, path: string): void {
  const merged = value === null ? undefined : Array.isArray(value) ? mergeList(path, base[key], value) : strategicMerge(base[key], value, path);
  if (merged === undefined) removeKey(base, key);
  else base[key] = merged;
}

/** Applies a patch of the given type to an object. Throws a 4xx Status for a malformed patch. */
export function applyPatch(type: Exclude<PatchType, 'apply'>, target: JsonObject, patch: unknown): JsonObject {
  const result = type === 'merge' ? mergePatch(target, patch) : type === 'json' ? jsonPatch(target, patch) : strategicMerge(target, patch);
  if (!isObject(result)) throw new ApiStatusError('BadRequest', 'the patch does not produce an object');
  return result;
}
