import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/sandbox/apiserver/object.js';
import { builtInSchemas, type OpenApiSchema, type SchemaIndex } from '../../src/sandbox/apiserver/openapi-schema.js';
import { servedProtobufCodec } from '../../src/sandbox/apiserver/protobuf/served.js';
import { discoveryDoc } from '../../src/sandbox/apiserver/discovery.js';
import { apiVersionOf, resourceDefs, type ResourceDef } from '../../src/sandbox/apiserver/resources.js';

const codec = servedProtobufCodec();
const schemas = builtInSchemas();
const refPrefix = '#/definitions/';
const meta = 'io.k8s.apimachinery.pkg.apis.meta.v1';

/** Values of the types whose JSON form is a string or an object of their own (codec special types). */
const specialSamples: Readonly<Record<string, unknown>> = {
  [`${meta}.Time`]: '2026-12-04T12:00:01Z',
  [`${meta}.MicroTime`]: '2026-12-04T12:00:01.123456Z',
  [`${meta}.FieldsV1`]: { 'f:metadata': { 'f:labels': { '.': {} } } },
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': 'http',
  'io.k8s.apimachinery.pkg.api.resource.Quantity': '1536Mi',
};

/**
 * An object of a definition with every field set to a value that is not its type's zero, so a
 * field the protobuf schema lacks (dropped on encoding), gives the wrong type or gives a number
 * another field has makes the round trip differ. A number that is wrong but unique round-trips:
 * the bytes captured from kubectl (sandbox-protobuf.test.ts) check those. Recursive types stop
 * at their second visit.
 */
function sampleOf(schema: OpenApiSchema, index: SchemaIndex, seen: readonly string[]): unknown {
  if (schema.$ref !== undefined) {
    const name = schema.$ref.slice(refPrefix.length);
    if (name in specialSamples) return specialSamples[name];
    const def = index.definitions[name];
    if (def === undefined) throw new Error(`no definition ${name}`);
    return seen.includes(name) ? undefined : sampleOf(def, index, [...seen, name]);
  }
  if (schema.type === 'array') return [sampleOf(schema.items ?? {}, index, seen)];
  if (schema.properties !== undefined) return sampleStruct(schema.properties, index, seen);
  if (typeof schema.additionalProperties === 'object') return { key: sampleOf(schema.additionalProperties, index, seen) };
  return scalarSample(schema);
}

function sampleStruct(properties: Readonly<Record<string, OpenApiSchema>>, index: SchemaIndex, seen: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const [key, prop] of Object.entries(properties)) {
    const value = sampleOf(prop, index, seen);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function scalarSample(schema: OpenApiSchema): unknown {
  if (schema.type === 'string') return schema.format === 'byte' ? Buffer.from([1, 2, 255]).toString('base64') : 'some-text';
  if (schema.type === 'integer') return 7;
  if (schema.type === 'boolean') return true;
  throw new Error(`no sample for a schema of type ${String(schema.type)}`);
}

/** A served kind's object: every field set, apiVersion and kind as served. */
function sampleKind(def: ResourceDef): JsonObject {
  const schema = schemas.schemaOf({ group: def.group, version: def.version, kind: def.kind });
  if (schema === undefined) throw new Error(`${def.kind}: no OpenAPI schema`);
  const sample = sampleOf(schema, schemas, []) as JsonObject;
  return { ...sample, apiVersion: apiVersionOf(def), kind: def.kind };
}

/** The bodies of subresources, which have no OpenAPI definition here: written out in full. */
const subresourceSamples: Readonly<Record<ResourceDef['subresources'][number], JsonObject | undefined>> = {
  scale: {
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: { name: 'web', namespace: 'default', uid: 'u-1', resourceVersion: '9', creationTimestamp: '2026-12-04T12:00:00Z' },
    spec: { replicas: 3 },
    status: { replicas: 0, selector: 'app=web,pod-template-hash=abc' },
  },
  binding: { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'web-1', namespace: 'default' }, target: { kind: 'Node', name: 'node-2', apiVersion: 'v1' } },
  // pods/log answers plain text.
  log: undefined,
  token: {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    metadata: { name: 'speaker', namespace: 'ironlb-system', creationTimestamp: '2026-12-04T12:00:00Z' },
    spec: { audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 3607, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'speaker-x', uid: 'u-2' } },
    status: { token: 'eyJ...', expirationTimestamp: '2026-12-04T13:00:07Z' },
  },
};

const roundTrip = (obj: JsonObject): JsonObject => {
  const bytes = codec.encodeObject(obj);
  if (bytes === undefined) throw new Error(`${String(obj.apiVersion)} ${String(obj.kind)}: no protobuf message`);
  return codec.decodeObject(bytes);
};

describe('protobuf for every kind the sandbox API server serves', () => {
  it.each(resourceDefs.map((def) => ({ name: `${apiVersionOf(def)} ${def.kind}`, def })))('$name round-trips with every field of its OpenAPI schema set', ({ def }) => {
    const obj = sampleKind(def);
    expect(roundTrip(obj)).toEqual(obj);
  });

  it.each(resourceDefs.map((def) => ({ name: `${apiVersionOf(def)} ${def.kind}List`, def })))('$name round-trips', ({ def }) => {
    const list = { apiVersion: apiVersionOf(def), kind: `${def.kind}List`, metadata: { resourceVersion: '12', continue: 'next' }, items: [sampleKind(def), sampleKind(def)] };
    const decoded = roundTrip(list);
    // Items of a list carry no apiVersion and kind on the wire, as the real server sends them.
    const bare = (item: JsonObject): JsonObject => Object.fromEntries(Object.entries(item).filter(([k]) => k !== 'apiVersion' && k !== 'kind'));
    expect(decoded).toEqual({ ...list, items: list.items.map(bare) });
  });

  it.each(resourceDefs.flatMap((def) => def.subresources.map((sub) => ({ name: `${def.plural}/${sub}`, sub }))))('the body of $name round-trips', ({ sub }) => {
    const sample = subresourceSamples[sub];
    if (sample !== undefined) expect(roundTrip(sample)).toEqual(sample);
  });

  it.each([
    { name: '/api (APIVersions, served without apiVersion: v1 in the envelope)', doc: discoveryDoc('api', '', '', resourceDefs), want: { ...discoveryDoc('api', '', '', resourceDefs), apiVersion: 'v1' } },
    { name: '/apis (APIGroupList)', doc: discoveryDoc('apis', '', '', resourceDefs) },
    { name: '/apis/apps (APIGroup)', doc: discoveryDoc('group', 'apps', '', resourceDefs) },
    { name: '/api/v1 (APIResourceList, verbs a metav1.Verbs message)', doc: discoveryDoc('core', '', 'v1', resourceDefs) },
    { name: '/apis/apps/v1 (APIResourceList with subresources)', doc: discoveryDoc('groupVersion', 'apps', 'v1', resourceDefs) },
  ])('the discovery document $name round-trips', ({ doc, want }) => {
    expect(roundTrip(doc)).toEqual(want ?? doc);
  });

  it('keeps a pointer field set to its zero value and drops a plain one, as Go decoding and omitempty do', () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { replicas: 0, minReadySeconds: 0, paused: false, template: { spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 0, hostPort: 0 }] }] } } },
    };
    expect(roundTrip(deployment)).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { replicas: 0, template: { spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 0 }] }] } } },
    });
  });
});
