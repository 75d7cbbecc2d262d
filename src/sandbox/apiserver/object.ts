import { isDeepStrictEqual } from 'node:util';
/** A JSON object as it travels over the wire and sits in the store. */
export type JsonObject = { [key: string]: unknown };

/** True for a plain JSON object (not an array, not null). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object at `key`, or a fresh empty one when it is missing or not an object. */
export function child(obj: JsonObject, key: string): JsonObject {
  const value = obj[key];
  return isObject(value) ? value : {};
}

/** The string at `key`, or undefined. */
export function str(obj: JsonObject, key: string): string | undefined {
  const value = obj[key];
  return typeof value === 'string' ? value : undefined;
}

/** The array at `key`, or an empty one. */
export function list(obj: JsonObject, key: string): readonly unknown[] {
  const value = obj[key];
  return Array.isArray(value) ? value : [];
}

/** A deep copy of a JSON value (objects in the store are never shared with callers). */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** `metadata` of an object, created when missing. */
export function meta(obj: JsonObject): JsonObject {
  const m = obj.metadata;
  if (isObject(m)) return m;
  const fresh: JsonObject = {};
  obj.metadata = fresh;
  return fresh;
}

/** Reads a dotted path (`spec.type`, `involvedObject.name`) as a string, for field selectors. */
export function pathString(obj: JsonObject, path: string): string {
  let current: unknown = obj;
  for (const part of path.split('.')) {
    if (!isObject(current)) return '';
    current = current[part];
  }
  if (typeof current === 'string') return current;
  if (typeof current === 'number' || typeof current === 'boolean') return String(current);
  return '';
}

/** Structural equality of two JSON values, whatever the key order (clients serialise in their own order). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}

/** Removes a key whose name is only known at run time (JSON maps: labels, patched fields). */
export function removeKey(obj: JsonObject, key: string): void {
  Reflect.deleteProperty(obj, key);
}
