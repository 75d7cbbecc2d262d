import { clone, isObject, jsonEqual, removeKey, type JsonObject } from './object.js';
import type { OpenApiSchema, SchemaIndex, SchemaNode } from './openapi-schema.js';

/**
 * A set of field paths as structured-merge-diff (sigs.k8s.io/structured-merge-diff/v4/fieldpath)
 * keeps them for server-side apply. A path is a list of elements in the FieldsV1 notation of
 * metav1.ManagedFieldsEntry: `f:spec` (a field), `k:{"port":80,"protocol":"TCP"}` (an item of a
 * list-map, by its keys in name order), `v:"a"` (a value of a set), `i:0` (an index). Paths are
 * stored as their elements joined by {@link sep}, which JSON-encoded elements never contain.
 */
export type FieldSet = ReadonlySet<string>;

const sep = '\u0001';

/** The elements of a stored path. */
export function pathElements(path: string): string[] {
  return path === '' ? [] : path.split(sep);
}

function child(path: string, element: string): string {
  return path === '' ? element : `${path}${sep}${element}`;
}

/** a ∪ b */
export function union(a: FieldSet, b: FieldSet): Set<string> {
  return new Set([...a, ...b]);
}

/** a − b */
export function difference(a: FieldSet, b: FieldSet): Set<string> {
  return new Set([...a].filter((p) => !b.has(p)));
}

/** a ∩ b */
export function intersection(a: FieldSet, b: FieldSet): Set<string> {
  return new Set([...a].filter((p) => b.has(p)));
}

type ListNode = SchemaNode & { shape: 'list' };
type FieldsNode = SchemaNode & { shape: 'struct' | 'map' };

/** A list merged item by item (a list-map or a set), not replaced whole. */
function granularList(node: SchemaNode): node is ListNode {
  return node.shape === 'list' && node.listType !== 'atomic';
}

function hasFields(node: SchemaNode): node is FieldsNode {
  return node.shape === 'struct' || node.shape === 'map';
}

/** `k:{"port":80,"protocol":"TCP"}`: the key fields of a list-map item in name order, defaults filled in. */
function keyElement(index: SchemaIndex, keys: readonly string[], items: OpenApiSchema, item: unknown): string {
  const fields = isObject(item) ? item : {};
  const itemNode = index.node(items);
  const declared = itemNode.shape === 'struct' ? itemNode.fields : {};
  const key: JsonObject = {};
  for (const name of [...keys].sort()) {
    const value = fields[name] ?? declared[name]?.default;
    if (value !== undefined) key[name] = value;
  }
  return `k:${JSON.stringify(key)}`;
}

/** The element naming a list item: `k:{...}` for list-maps, `v:...` for sets, `i:N` otherwise. */
function itemElement(index: SchemaIndex, node: ListNode, item: unknown, position: number): string {
  if (node.listType === 'map') return keyElement(index, node.keys, node.items, item);
  if (node.listType === 'set') return `v:${JSON.stringify(item)}`;
  return `i:${String(position)}`;
}

function fieldSchema(node: SchemaNode, key: string): OpenApiSchema | undefined {
  if (node.shape === 'struct') return node.fields[key];
  if (node.shape === 'map') return node.values;
  return undefined;
}

function isEmptyObject(value: unknown): boolean {
  return value === null || (isObject(value) && Object.keys(value).length === 0);
}

/**
 * The fields a value sets, as structured-merge-diff's ToFieldSet computes them for an applied
 * configuration: every scalar and atomic value, every list item (a member itself, its fields
 * below it), empty or null fields, and fields the schema does not declare.
 */
export function toFieldSet(index: SchemaIndex, schema: OpenApiSchema, value: unknown): Set<string> {
  const out = new Set<string>();
  collect(index, schema, value, '', out);
  return out;
}

function collect(index: SchemaIndex, schema: OpenApiSchema, value: unknown, path: string, out: Set<string>): void {
  const node = index.node(schema);
  if (granularList(node) && Array.isArray(value)) {
    value.forEach((item, i) => {
      const itemPath = child(path, itemElement(index, node, item, i));
      out.add(itemPath);
      collect(index, node.items, item, itemPath, out);
    });
  } else if (hasFields(node) && isObject(value)) {
    collectFields(index, node, value, path, out);
  } else if (path !== '') {
    out.add(path);
  }
}

function collectFields(index: SchemaIndex, node: FieldsNode, value: JsonObject, path: string, out: Set<string>): void {
  for (const [key, v] of Object.entries(value)) {
    const fieldPath = child(path, `f:${key}`);
    const sub = fieldSchema(node, key);
    if (sub === undefined || isEmptyObject(v)) out.add(fieldPath);
    if (sub !== undefined) collect(index, sub, v, fieldPath, out);
  }
}

/** What changed between two versions of an object, by path (structured-merge-diff's Comparison). */
export interface Comparison {
  readonly added: Set<string>;
  readonly removed: Set<string>;
  readonly modified: Set<string>;
}

/**
 * Compares two values over a schema. Scalars and atomic values are leaves (added, removed or
 * modified); a list or free-form map that appears or disappears is itself added or removed, as
 * are list items; a struct is never a member by itself unless it is empty.
 */
export function compare(index: SchemaIndex, schema: OpenApiSchema, before: unknown, after: unknown): Comparison {
  const result: Comparison = { added: new Set(), removed: new Set(), modified: new Set() };
  diff(index, schema, before, after, '', result);
  return result;
}

function leaf(before: unknown, after: unknown, path: string, result: Comparison): void {
  if (before === undefined && after !== undefined) result.added.add(path);
  else if (after === undefined && before !== undefined) result.removed.add(path);
  else if (!jsonEqual(before, after)) result.modified.add(path);
}

/** Added or removed as a whole (its presence), whatever its content. */
function presence(before: unknown, after: unknown, path: string, result: Comparison): void {
  leaf(before === undefined ? undefined : true, after === undefined ? undefined : true, path, result);
}

/** A free-form map is a member by itself; a struct only while it is empty. */
function memberItself(node: FieldsNode, before: unknown, after: unknown): boolean {
  return node.shape === 'map' || isEmptyObject(before) || isEmptyObject(after);
}

function diff(index: SchemaIndex, schema: OpenApiSchema, before: unknown, after: unknown, path: string, result: Comparison): void {
  if (before === undefined && after === undefined) return;
  const node = index.node(schema);
  if (granularList(node)) {
    if (path !== '') presence(before, after, path, result);
    diffItems(index, node, before, after, path, result);
  } else if (hasFields(node)) {
    if (path !== '' && memberItself(node, before, after)) presence(before, after, path, result);
    diffFields(index, node, before, after, path, result);
  } else if (path !== '') {
    leaf(before, after, path, result);
  }
}

function diffFields(index: SchemaIndex, node: SchemaNode, before: unknown, after: unknown, path: string, result: Comparison): void {
  const b = isObject(before) ? before : {};
  const a = isObject(after) ? after : {};
  for (const key of new Set([...Object.keys(b), ...Object.keys(a)])) {
    const fieldPath = child(path, `f:${key}`);
    const sub = fieldSchema(node, key);
    if (sub === undefined) leaf(b[key], a[key], fieldPath, result);
    else diff(index, sub, b[key], a[key], fieldPath, result);
  }
}

function diffItems(index: SchemaIndex, node: ListNode, before: unknown, after: unknown, path: string, result: Comparison): void {
  const keyed = (list: unknown): Map<string, unknown> => new Map((Array.isArray(list) ? list : []).map((item: unknown, i) => [itemElement(index, node, item, i), item]));
  const b = keyed(before);
  const a = keyed(after);
  for (const element of new Set([...b.keys(), ...a.keys()])) {
    const itemPath = child(path, element);
    leaf(b.has(element) ? true : undefined, a.has(element) ? true : undefined, itemPath, result);
    diff(index, node.items, b.get(element), a.get(element), itemPath, result);
  }
}

/**
 * Merges an applied configuration into a live object as server-side apply does: structs and
 * free-form maps merge key by key, list-maps item by item (by their keys), sets by value; scalars,
 * atomic lists and atomic maps are replaced; a null field removes it.
 */
export function mergeApplied(index: SchemaIndex, schema: OpenApiSchema, live: unknown, config: unknown): unknown {
  const node = index.node(schema);
  if (granularList(node) && Array.isArray(config)) return mergeItems(index, node, live, config);
  if (hasFields(node) && isObject(config)) return mergeFields(index, node, live, config);
  return clone(config);
}

function mergeFields(index: SchemaIndex, node: FieldsNode, live: unknown, config: JsonObject): JsonObject {
  const out: JsonObject = isObject(live) ? clone(live) : {};
  for (const [key, value] of Object.entries(config)) {
    const sub = fieldSchema(node, key);
    if (value === null) removeKey(out, key);
    else out[key] = sub === undefined ? clone(value) : mergeApplied(index, sub, out[key], value);
  }
  return out;
}

function mergeItems(index: SchemaIndex, node: ListNode, live: unknown, config: readonly unknown[]): unknown[] {
  const out: unknown[] = Array.isArray(live) ? clone(live as unknown[]) : [];
  const elements = out.map((item, i) => itemElement(index, node, item, i));
  config.forEach((item, i) => {
    const element = itemElement(index, node, item, i);
    const at = elements.indexOf(element);
    if (at >= 0) out[at] = mergeApplied(index, node.items, out[at], item);
    else {
      out.push(clone(item));
      elements.push(element);
    }
  });
  return out;
}

/**
 * Removes the given paths from an object (fields, list-map items by key, set values), the paths
 * most deeply nested first. Paths that are not there are skipped.
 */
export function removePaths(index: SchemaIndex, schema: OpenApiSchema, obj: JsonObject, paths: FieldSet): void {
  const sorted = [...paths].map(pathElements).sort((x, y) => y.length - x.length);
  for (const elements of sorted) removeOne(index, schema, obj, elements);
}

function removeOne(index: SchemaIndex, schema: OpenApiSchema, value: unknown, elements: readonly string[]): void {
  const [first, ...rest] = elements;
  if (first === undefined) return;
  const node = index.node(schema);
  if (first.startsWith('f:') && isObject(value)) {
    const key = first.slice(2);
    if (rest.length === 0) removeKey(value, key);
    else removeOne(index, fieldSchema(node, key) ?? {}, value[key], rest);
    return;
  }
  if (!granularList(node) || !Array.isArray(value)) return;
  const at = value.findIndex((item: unknown, i) => itemElement(index, node, item, i) === first);
  if (at < 0) return;
  if (rest.length === 0) value.splice(at, 1);
  else removeOne(index, node.items, value[at], rest);
}

/**
 * A path as structured-merge-diff prints it in conflicts: `.spec.ports[port=80,protocol="TCP"].targetPort`,
 * `.metadata.finalizers[="a"]`, `.items[0]`.
 */
export function printPath(path: string): string {
  return pathElements(path).map(printElement).join('');
}

function printElement(element: string): string {
  const body = element.slice(2);
  if (element.startsWith('f:')) return `.${body}`;
  if (element.startsWith('v:')) return `[=${body}]`;
  if (element.startsWith('i:')) return `[${body}]`;
  const key = JSON.parse(body) as JsonObject;
  return `[${Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
}

/**
 * Encodes a set as FieldsV1 JSON: one nested object per element, `{}` for a member leaf, and a
 * `.` entry for a member that also has members below it.
 */
export function encodeFieldsV1(set: FieldSet): JsonObject {
  const root: JsonObject = {};
  for (const path of [...set].sort()) {
    let node = root;
    for (const element of pathElements(path)) {
      const next = node[element];
      const obj: JsonObject = isObject(next) ? next : {};
      node[element] = obj;
      node = obj;
    }
  }
  markMembers(root, set, '');
  return sortKeys(root);
}

function markMembers(node: JsonObject, set: FieldSet, path: string): void {
  for (const [element, sub] of Object.entries(node)) {
    if (!isObject(sub)) continue;
    const subPath = child(path, element);
    if (set.has(subPath) && Object.keys(sub).length > 0) sub['.'] = {};
    markMembers(sub, set, subPath);
  }
}

function sortKeys(node: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(node).sort()) {
    const value = node[key];
    out[key] = isObject(value) ? sortKeys(value) : value;
  }
  return out;
}

/** Decodes FieldsV1 JSON into a set (the inverse of {@link encodeFieldsV1}). */
export function decodeFieldsV1(fields: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (node: JsonObject, path: string): void => {
    for (const [element, sub] of Object.entries(node)) {
      if (element === '.') {
        out.add(path);
        continue;
      }
      if (!isObject(sub)) continue;
      const subPath = child(path, element);
      if (Object.keys(sub).length === 0) out.add(subPath);
      else walk(sub, subPath);
    }
  };
  if (isObject(fields)) walk(fields, '');
  return out;
}
