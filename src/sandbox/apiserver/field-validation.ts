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
 * `strict decoding error: unknown field "spec.foo", unknown field "spec.bar"`.
 */
export function strictDecodingMessage(unknown: readonly string[], duplicates: readonly string[] = []): string {
  const parts = [...unknown.map((f) => `unknown field "${f}"`), ...duplicates.map((f) => `duplicate field "${f}"`)];
  return `strict decoding error: ${parts.join(', ')}`;
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
