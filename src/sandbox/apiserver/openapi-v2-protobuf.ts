import { stringify as stringifyYaml } from 'yaml';
import { isObject, type JsonObject } from './object.js';
import { parseAccept } from './negotiation.js';
import { createProtobufCodec } from './protobuf/codec.js';
import { openApiV2 } from './protobuf/openapi-v2.js';

/**
 * `/openapi/v2` in protobuf: the gnostic OpenAPIv2 Document that kube-apiserver serves when a
 * client asks for `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, as
 * `kubectl explain --output=plaintext-openapiv2` and client-go's `OpenAPISchema()` do; they parse
 * the answer as protobuf whatever its Content-Type, so a JSON answer fails them.
 */

/** The media types of kube-openapi's v2 handler, in its order, and the Content-Type each is answered with. */
const v2MediaTypes: ReadonlyArray<readonly [string, string]> = [
  ['application/json', 'application/json'],
  ['application/com.github.proto-openapi.spec.v2@v1.0+protobuf', 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf'],
  ['application/com.github.proto-openapi.spec.v2.v1.0+protobuf', 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf'],
];

/**
 * The Content-Type `/openapi/v2` is answered with for an `Accept`, as kube-openapi's handler picks
 * it (goautoneg order, the first clause any of its types matches; no Accept is `*\/*`), or
 * undefined for a 406.
 */
export function negotiateOpenApiV2(accept: string | undefined): 'json' | 'protobuf' | undefined {
  for (const clause of parseAccept(accept === undefined || accept === '' ? '*/*' : accept)) {
    for (const [mediaType, answered] of v2MediaTypes) {
      const [type, subType] = mediaType.split('/');
      if ((clause.type === type || clause.type === '*') && (clause.subType === subType || clause.subType === '*')) return answered === 'application/json' ? 'json' : 'protobuf';
    }
  }
  return undefined;
}

/** The Content-Type of the protobuf document. */
export const openApiV2ProtobufType = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

/** Encodes an OpenAPI v2 document (JSON) as the gnostic openapi.v2.Document message. */
export function encodeOpenApiV2(doc: JsonObject): Uint8Array {
  return createProtobufCodec([openApiV2], []).encodeMessage(documentOf(doc), 'openapi.v2.Document');
}

/** gnostic keeps an extension's or a default's value as its YAML text (openapi.v2.Any.yaml). */
function anyOf(value: unknown): JsonObject {
  return { yaml: stringifyYaml(value) };
}

function extensionsOf(obj: JsonObject): JsonObject[] {
  return Object.entries(obj)
    .filter(([key]) => key.startsWith('x-'))
    .map(([name, value]) => ({ name, value: anyOf(value) }));
}

/** A JSON map as gnostic's `repeated Named*` list. */
function named(value: unknown, f: (v: JsonObject) => JsonObject): JsonObject[] {
  return isObject(value) ? Object.entries(value).map(([name, v]) => ({ name, value: f(isObject(v) ? v : {}) })) : [];
}

function pick(obj: JsonObject, keys: readonly string[]): JsonObject {
  return Object.fromEntries(keys.filter((k) => obj[k] !== undefined).map((k) => [k, obj[k]]));
}

function documentOf(doc: JsonObject): JsonObject {
  const info = isObject(doc.info) ? doc.info : {};
  return {
    ...pick(doc, ['swagger', 'host', 'basePath', 'schemes', 'consumes', 'produces']),
    info: { ...pick(info, ['title', 'version', 'description']), vendorExtension: extensionsOf(info) },
    paths: { path: named(doc.paths, pathItemOf) },
    definitions: { additionalProperties: named(doc.definitions, schemaOf) },
    vendorExtension: extensionsOf(doc),
  };
}

const schemaScalars = ['format', 'title', 'description', 'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems', 'maxProperties', 'minProperties', 'required', 'discriminator', 'readOnly'];

function schemaOf(s: JsonObject): JsonObject {
  const out: JsonObject = { ...pick(s, schemaScalars), vendorExtension: extensionsOf(s) };
  if (typeof s.$ref === 'string') out._ref = s.$ref;
  if (s.type !== undefined) out.type = { value: Array.isArray(s.type) ? s.type : [s.type] };
  if (s.default !== undefined) out.default = anyOf(s.default);
  if (s.example !== undefined) out.example = anyOf(s.example);
  if (Array.isArray(s.enum)) out.enum = s.enum.map(anyOf);
  return { ...out, ...nestedSchemasOf(s) };
}

/** items, allOf, properties and additionalProperties, each a schema or a list or map of them. */
function nestedSchemasOf(s: JsonObject): JsonObject {
  const out: JsonObject = {};
  if (s.items !== undefined) out.items = { schema: (Array.isArray(s.items) ? s.items : [s.items]).filter(isObject).map(schemaOf) };
  if (Array.isArray(s.allOf)) out.allOf = s.allOf.filter(isObject).map(schemaOf);
  if (isObject(s.properties)) out.properties = { additionalProperties: named(s.properties, schemaOf) };
  if (typeof s.additionalProperties === 'boolean') out.additionalProperties = { boolean: s.additionalProperties };
  else if (isObject(s.additionalProperties)) out.additionalProperties = { schema: schemaOf(s.additionalProperties) };
  return out;
}

const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'];

function pathItemOf(item: JsonObject): JsonObject {
  const out: JsonObject = { parameters: parametersOf(item.parameters), vendorExtension: extensionsOf(item) };
  for (const method of methods) if (isObject(item[method])) out[method] = operationOf(item[method]);
  return out;
}

function operationOf(op: JsonObject): JsonObject {
  const response = (r: JsonObject): JsonObject => ({
    response: { ...pick(r, ['description']), ...(isObject(r.schema) ? { schema: { schema: schemaOf(r.schema) } } : {}), vendorExtension: extensionsOf(r) },
  });
  return {
    ...pick(op, ['tags', 'summary', 'description', 'operationId', 'produces', 'consumes', 'schemes', 'deprecated']),
    parameters: parametersOf(op.parameters),
    responses: { responseCode: named(op.responses, response) },
    vendorExtension: extensionsOf(op),
  };
}

/** A parameter is a oneof: a `$ref`, a body parameter, or a query or path parameter. */
function parametersOf(value: unknown): JsonObject[] {
  const one = (p: JsonObject): JsonObject => {
    if (typeof p.$ref === 'string') return { jsonReference: { _ref: p.$ref } };
    if (p.in === 'body') return { parameter: { bodyParameter: { ...pick(p, ['description', 'name', 'in', 'required']), ...(isObject(p.schema) ? { schema: schemaOf(p.schema) } : {}), vendorExtension: extensionsOf(p) } } };
    const sub = { ...pick(p, ['required', 'in', 'description', 'name', 'allowEmptyValue', 'type', 'format', 'uniqueItems']), vendorExtension: extensionsOf(p) };
    return { parameter: { nonBodyParameter: p.in === 'path' ? { pathParameterSubSchema: sub } : { queryParameterSubSchema: sub } } };
  };
  return Array.isArray(value) ? value.filter(isObject).map(one) : [];
}
