import { isObject } from './object.js';
import type { OpenApiSchema, SchemaIndex } from './openapi-schema.js';

/** The `fieldValidation` query parameter of create, update and patch (kube-apiserver's values). */
export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/**
 * Parses `fieldValidation`; absent means Warn, as on kube-apiserver since 1.27 (kubectl sends
 * Strict itself when the server's OpenAPI lists the parameter). Undefined for any other value.
 */
export function parseFieldValidation(value: string | null): FieldValidation | undefined {
  if (value === null || value === '') return 'Warn';
  return value === 'Strict' || value === 'Warn' || value === 'Ignore' ? value : undefined;
}

/**
 * The dotted paths of fields the schema does not declare (`spec.foo`, `spec.ports[0].bar`), in
 * document order, as sigs.k8s.io/json's strict decoding names them. Free-form maps (labels,
 * data) and untyped values accept any key.
 */
export function unknownFields(index: SchemaIndex, schema: OpenApiSchema, value: unknown): string[] {
  const found: string[] = [];
  walk(index, schema, value, '', found);
  return found;
}

function walk(index: SchemaIndex, schema: OpenApiSchema, value: unknown, path: string, found: string[]): void {
  const node = index.node(schema);
  if (node.shape === 'list' && Array.isArray(value)) {
    value.forEach((item, i) => {
      walk(index, node.items, item, `${path}[${String(i)}]`, found);
    });
    return;
  }
  if (!isObject(value)) return;
  if (node.shape === 'map') {
    for (const [key, v] of Object.entries(value)) walk(index, node.values, v, join(path, key), found);
  } else if (node.shape === 'struct') {
    for (const [key, v] of Object.entries(value)) {
      const field = node.fields[key];
      if (field === undefined) found.push(join(path, key));
      else walk(index, field, v, join(path, key), found);
    }
  }
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/**
 * kube-apiserver's words for fields a strict decode refused, e.g.
 * `strict decoding error: unknown field "spec.foo", duplicate field "spec.type"`.
 */
export function strictDecodingMessage(complaints: readonly string[]): string {
  return `strict decoding error: ${complaints.join(', ')}`;
}

/** Removes the fields {@link unknownFields} finds, as decoding into kube-apiserver's Go types drops them. */
export function dropUnknownFields(index: SchemaIndex, schema: OpenApiSchema, value: unknown): void {
  const node = index.node(schema);
  if (node.shape === 'list' && Array.isArray(value)) {
    for (const item of value) dropUnknownFields(index, node.items, item);
  } else if (node.shape === 'map' && isObject(value)) {
    for (const v of Object.values(value)) dropUnknownFields(index, node.values, v);
  } else if (node.shape === 'struct' && isObject(value)) {
    dropFromStruct(index, node.fields, value);
  }
}

function dropFromStruct(index: SchemaIndex, fields: Readonly<Record<string, OpenApiSchema>>, value: Record<string, unknown>): void {
  for (const [key, v] of Object.entries(value)) {
    const field = fields[key];
    if (field === undefined) Reflect.deleteProperty(value, key);
    else dropUnknownFields(index, field, v);
  }
}

/** Where each object key of a JSON body first appears, and the keys repeated within one object. */
export interface JsonKeys {
  /** dotted path (`spec.ports[0].port`) -> offset of its first occurrence */
  readonly first: ReadonlyMap<string, number>;
  /** Repeated keys, each at the offset of the repeat, in document order. */
  readonly duplicates: readonly { readonly path: string; readonly offset: number }[];
}

type Container = { kind: 'object'; path: string; keys: Set<string>; key: string | undefined } | { kind: 'array'; path: string; index: number };

function valuePath(top: Container | undefined): string {
  if (top === undefined) return '';
  return top.kind === 'array' ? `${top.path}[${String(top.index)}]` : join(top.path, top.key ?? '');
}

/** The offset just past the string that starts at `start` (a `"`). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

/**
 * Scans a valid JSON text for its object keys: JSON.parse keeps the last of repeated keys
 * silently, while kube-apiserver's strict decoding (sigs.k8s.io/json) reports them as
 * `duplicate field "metadata.name"`. Linear in the text.
 */
export function scanJsonKeys(text: string): JsonKeys {
  const first = new Map<string, number>();
  const duplicates: { path: string; offset: number }[] = [];
  const stack: Container[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = stack[stack.length - 1];
    if (c === '"') {
      const end = stringEnd(text, i);
      if (top?.kind === 'object' && top.key === undefined) recordKey(top, JSON.parse(text.slice(i, end)) as string, i, first, duplicates);
      i = end - 1;
    } else {
      structural(c, top, stack);
    }
  }
  return { first, duplicates };
}

/** Opens or closes a container, or moves to its next member on a comma. */
function structural(c: string | undefined, top: Container | undefined, stack: Container[]): void {
  if (c === '{') stack.push({ kind: 'object', path: valuePath(top), keys: new Set(), key: undefined });
  else if (c === '[') stack.push({ kind: 'array', path: valuePath(top), index: 0 });
  else if (c === '}' || c === ']') stack.pop();
  else if (c === ',') nextMember(top);
}

function nextMember(top: Container | undefined): void {
  if (top?.kind === 'array') top.index++;
  else if (top !== undefined) top.key = undefined;
}

function recordKey(top: Container & { kind: 'object' }, key: string, offset: number, first: Map<string, number>, duplicates: { path: string; offset: number }[]): void {
  const path = join(top.path, key);
  top.key = key;
  if (top.keys.has(key)) duplicates.push({ path, offset });
  else {
    top.keys.add(key);
    if (!first.has(path)) first.set(path, offset);
  }
}

/**
 * The strict decoding complaints about a body, in document order as kube-apiserver lists them:
 * `unknown field "spec.foo"`, `duplicate field "metadata.name"`.
 */
export function fieldComplaints(unknown: readonly string[], keys: JsonKeys | undefined): string[] {
  const entries = [
    ...unknown.map((f) => ({ text: `unknown field "${f}"`, offset: keys?.first.get(f) ?? Number.MAX_SAFE_INTEGER })),
    ...(keys?.duplicates ?? []).map((d) => ({ text: `duplicate field "${d.path}"`, offset: d.offset })),
  ];
  return entries.sort((a, b) => a.offset - b.offset).map((e) => e.text);
}
