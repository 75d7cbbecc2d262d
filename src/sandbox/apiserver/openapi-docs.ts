import { createHash } from 'node:crypto';
import { isObject, type JsonObject } from './object.js';
import type { SchemaIndex } from './openapi-schema.js';
import { encodeOpenApiV2 } from './openapi-v2-protobuf.js';
import type { ResourceDef } from './resources.js';

/** The OpenAPI documents of one server: built once from its resources and their schemas. */
export interface OpenApiDocs {
  /** `GET /openapi/v2` (JSON). */
  readonly v2: string;
  /** `GET /openapi/v2` in protobuf: the gnostic openapi.v2.Document of the same document. */
  readonly v2Protobuf: Uint8Array;
  /** `GET /openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}}}`. */
  readonly v3Index: string;
  /** `api/v1`, `apis/coordination.k8s.io/v1` -> the serialised document and its hash. */
  readonly v3: ReadonlyMap<string, { readonly body: string; readonly hash: string }>;
}

/** Query parameters of writes, as kube-apiserver documents them (kubectl looks for `fieldValidation` on PATCH). */
const writeParams: readonly JsonObject[] = [
  { name: 'dryRun', in: 'query', description: 'When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed', schema: { type: 'string', uniqueItems: true } },
  { name: 'fieldManager', in: 'query', description: 'fieldManager is a name associated with the actor or entity that is making these changes.', schema: { type: 'string', uniqueItems: true } },
  {
    name: 'fieldValidation',
    in: 'query',
    description: 'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: - Ignore - Warn (the default) - Strict',
    schema: { type: 'string', uniqueItems: true },
  },
];
const forceParam: JsonObject = { name: 'force', in: 'query', description: 'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by other people.', schema: { type: 'boolean', uniqueItems: true } };
const patchTypes = ['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'];

/** `api/v1` or `apis/<group>/<version>`: the key of a group-version in the v3 index. */
export function groupVersionPath(def: Pick<ResourceDef, 'group' | 'version'>): string {
  return def.group === '' ? `api/${def.version}` : `apis/${def.group}/${def.version}`;
}

/** Builds the v2 and v3 documents of the resources that have a schema; the others are left out. */
export function buildOpenApiDocs(defs: readonly ResourceDef[], index: SchemaIndex, version: string): OpenApiDocs {
  const withSchema = defs.filter((d) => index.definitionOf(gvkOf(d)) !== undefined);
  const byGroupVersion = new Map<string, ResourceDef[]>();
  for (const d of withSchema) byGroupVersion.set(groupVersionPath(d), [...(byGroupVersion.get(groupVersionPath(d)) ?? []), d]);
  const v3 = new Map<string, { body: string; hash: string }>();
  for (const [gv, group] of byGroupVersion) {
    const body = JSON.stringify(v3Document(group, index, version));
    v3.set(gv, { body, hash: createHash('sha512').update(body).digest('hex').toUpperCase() });
  }
  const paths = Object.fromEntries([...v3].map(([gv, doc]) => [gv, { serverRelativeURL: `/openapi/v3/${gv}?hash=${doc.hash}` }]));
  const v2 = v2Document(withSchema, index, version);
  return { v2: JSON.stringify(v2), v2Protobuf: encodeOpenApiV2(v2), v3Index: JSON.stringify({ paths }), v3 };
}

function gvkOf(d: ResourceDef): { group: string; version: string; kind: string } {
  return { group: d.group, version: d.version, kind: d.kind };
}

/** The definitions a set of kinds reaches through `$ref`, by name. */
function closure(index: SchemaIndex, roots: readonly string[]): string[] {
  const seen = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (isObject(value)) {
      for (const [key, v] of Object.entries(value)) {
        if (key === '$ref' && typeof v === 'string') add(v.slice('#/definitions/'.length));
        else visit(v);
      }
    }
  };
  const add = (name: string): void => {
    if (seen.has(name) || index.definitions[name] === undefined) return;
    seen.add(name);
    visit(index.definitions[name]);
  };
  roots.forEach(add);
  return [...seen].sort();
}

/**
 * A copy of a schema with its `$ref`s pointing into `#/components/schemas/` (OpenAPI v3). A `$ref`
 * with siblings (a field's description next to its type) becomes `allOf: [{$ref}]` beside them,
 * as kube-openapi's v3 builder writes it: OpenAPI 3.0 ignores siblings of `$ref`, and so does
 * `kubectl explain`, which then printed the type's description instead of the field's.
 */
function toV3Refs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toV3Refs);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value)) out[key] = key === '$ref' && typeof v === 'string' ? v.replace('#/definitions/', '#/components/schemas/') : toV3Refs(v);
  if (typeof out.$ref !== 'string' || Object.keys(out).length === 1) return out;
  const { $ref, ...siblings } = out;
  return { ...siblings, allOf: [{ $ref }] };
}

function collectionPath(d: ResourceDef): string {
  const base = d.group === '' ? `/api/${d.version}` : `/apis/${d.group}/${d.version}`;
  return d.namespaced ? `${base}/namespaces/{namespace}/${d.plural}` : `${base}/${d.plural}`;
}

interface OperationStyle {
  readonly ref: (name: string) => JsonObject;
  readonly param: (p: JsonObject) => JsonObject;
  readonly body: (schema: JsonObject, types: readonly string[]) => JsonObject;
}

const v3Style: OperationStyle = {
  ref: (name) => ({ $ref: `#/components/schemas/${name}` }),
  param: (p) => p,
  body: (schema, types) => ({ requestBody: { required: true, content: Object.fromEntries(types.map((t) => [t, { schema }])) } }),
};

const v2Style: OperationStyle = {
  ref: (name) => ({ $ref: `#/definitions/${name}` }),
  param: (p) => {
    const { schema, ...rest } = p;
    return { ...rest, ...(isObject(schema) ? schema : {}) };
  },
  body: (schema, types) => ({ consumes: types, parameters: [{ name: 'body', in: 'body', required: true, schema }] }),
};

function operation(style: OperationStyle, d: ResourceDef, action: string, name: string, extra: JsonObject): JsonObject {
  const response = style === v3Style ? { content: { 'application/json': { schema: style.ref(name) } } } : { schema: style.ref(name) };
  return {
    operationId: `${action}${d.kind}`,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group: d.group, version: d.version, kind: d.kind },
    responses: { '200': { description: 'OK', ...response } },
    ...extra,
  };
}

function withParams(style: OperationStyle, params: readonly JsonObject[], body: JsonObject): JsonObject {
  const bodyParams = Array.isArray(body.parameters) ? (body.parameters as JsonObject[]) : [];
  return { ...body, parameters: [...params.map(style.param), ...bodyParams] };
}

/** The paths of one resource: its collection, one object and (when it has one) the status subresource. */
function resourcePaths(style: OperationStyle, d: ResourceDef, name: string): JsonObject {
  const collection = collectionPath(d);
  const object = `${collection}/{name}`;
  const schema = style.ref(name);
  const patch = (action: string): JsonObject => operation(style, d, action, name, withParams(style, [...writeParams, forceParam], style.body({ type: 'object' }, patchTypes)));
  const put = (action: string): JsonObject => operation(style, d, action, name, withParams(style, writeParams, style.body(schema, ['application/json'])));
  const paths: JsonObject = {
    [collection]: { get: operation(style, d, 'list', name, {}), ...(d.readOnly ? {} : { post: operation(style, d, 'post', name, withParams(style, writeParams, style.body(schema, ['application/json']))) }) },
    [object]: { get: operation(style, d, 'get', name, {}), ...(d.readOnly ? {} : { put: put('put'), patch: patch('patch'), delete: operation(style, d, 'delete', name, {}) }) },
  };
  if (d.hasStatus) paths[`${object}/status`] = { get: operation(style, d, 'get', name, {}), put: put('put'), patch: patch('patch') };
  return paths;
}

function v3Document(defs: readonly ResourceDef[], index: SchemaIndex, version: string): JsonObject {
  const names = defs.map((d) => index.definitionOf(gvkOf(d)) ?? '');
  const paths = Object.assign({}, ...defs.map((d, i) => resourcePaths(v3Style, d, names[i] ?? ''))) as JsonObject;
  const schemas = Object.fromEntries(closure(index, names).map((n) => [n, toV3Refs(index.definitions[n])]));
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version }, paths, components: { schemas } };
}

function v2Document(defs: readonly ResourceDef[], index: SchemaIndex, version: string): JsonObject {
  const names = defs.map((d) => index.definitionOf(gvkOf(d)) ?? '');
  const paths = Object.assign({}, ...defs.map((d, i) => resourcePaths(v2Style, d, names[i] ?? ''))) as JsonObject;
  const definitions = Object.fromEntries(closure(index, names).map((n) => [n, index.definitions[n]]));
  return { swagger: '2.0', info: { title: 'Kubernetes', version }, paths, definitions };
}
