import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fieldComplaints, parseFieldValidation, scanJsonKeys, strictDecodingMessage, unknownFields } from '../../src/sandbox/apiserver/field-validation.js';
import { isObject, type JsonObject } from '../../src/sandbox/apiserver/object.js';
import { buildOpenApiDocs, groupVersionPath } from '../../src/sandbox/apiserver/openapi-docs.js';
import { builtInSchemas } from '../../src/sandbox/apiserver/openapi-schema.js';
import { encodeOpenApiV2, negotiateOpenApiV2 } from '../../src/sandbox/apiserver/openapi-v2-protobuf.js';
import { createProtobufCodec } from '../../src/sandbox/apiserver/protobuf/codec.js';
import { openApiV2 } from '../../src/sandbox/apiserver/protobuf/openapi-v2.js';
import { resourceDefs } from '../../src/sandbox/apiserver/resources.js';

const index = builtInSchemas();
const serviceSchema = index.schemaOf({ group: '', version: 'v1', kind: 'Service' }) ?? {};

describe('unknown fields', () => {
  it.each([
    { name: 'a known object', body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', labels: { any: 'x' } }, spec: { ports: [{ port: 80 }] } }, unknown: [] },
    { name: 'a top-level field', body: { kind: 'Service', foo: 1 }, unknown: ['foo'] },
    { name: 'a spec field', body: { spec: { type: 'LoadBalancer', foo: 1, bar: 2 } }, unknown: ['spec.foo', 'spec.bar'] },
    { name: 'a field of a list item', body: { spec: { ports: [{ port: 80 }, { port: 81, prot: 'TCP' }] } }, unknown: ['spec.ports[1].prot'] },
    { name: 'a metadata field', body: { metadata: { name: 'a', labelz: {} } }, unknown: ['metadata.labelz'] },
  ])('finds $name', ({ body, unknown }) => {
    expect(unknownFields(index, serviceSchema, body)).toEqual(unknown);
  });

  it('words the error as kube-apiserver does, unknown and duplicate fields in document order', () => {
    const text = '{"metadata":{"name":"a","name":"b"},"spec":{"foo":1,"type":"A","ports":[{"port":1,"port":2,"bar":3}],"type":"B"}}';
    const body = JSON.parse(text) as unknown;
    const complaints = fieldComplaints(unknownFields(index, serviceSchema, body), scanJsonKeys(text));
    expect(strictDecodingMessage(complaints)).toBe(
      'strict decoding error: duplicate field "metadata.name", unknown field "spec.foo", duplicate field "spec.ports[0].port", unknown field "spec.ports[0].bar", duplicate field "spec.type"',
    );
  });

  it('finds no duplicates where keys repeat only across objects, or inside strings', () => {
    expect(scanJsonKeys('{"a":{"x":1},"b":{"x":"\\"x\\":"},"c":[{"x":1},{"x":2}]}').duplicates).toEqual([]);
  });

  it.each([
    { value: null, parsed: 'Warn' },
    { value: 'Strict', parsed: 'Strict' },
    { value: 'Ignore', parsed: 'Ignore' },
    { value: 'strict', parsed: undefined },
  ])('parses fieldValidation=$value', ({ value, parsed }) => {
    expect(parseFieldValidation(value)).toBe(parsed);
  });
});

describe('OpenAPI documents', () => {
  const docs = buildOpenApiDocs(resourceDefs, index, 'v1.32.0');

  it('indexes every served group-version with the hash of its document', () => {
    const paths = (JSON.parse(docs.v3Index) as { paths: Record<string, { serverRelativeURL: string }> }).paths;
    // Every served kind has a schema, so every served group-version has a document.
    expect(Object.keys(paths).sort()).toEqual([...new Set(resourceDefs.map(groupVersionPath))].sort());
    expect(Object.keys(paths)).toContain('apis/coordination.k8s.io/v1');
    expect(Object.keys(paths)).toContain('apis/apps/v1');
    const v1 = docs.v3.get('api/v1');
    expect(paths['api/v1']?.serverRelativeURL).toBe(`/openapi/v3/api/v1?hash=${createHash('sha512').update(v1?.body ?? '').digest('hex').toUpperCase()}`);
  });

  it('lists fieldValidation on the PATCH of each kind, as kubectl checks before sending it', () => {
    const doc = JSON.parse(docs.v3.get('api/v1')?.body ?? '{}') as { paths: Record<string, { patch?: JsonObject }> };
    const patch = doc.paths['/api/v1/namespaces/{namespace}/services/{name}']?.patch;
    expect(patch?.['x-kubernetes-group-version-kind']).toEqual({ group: '', version: 'v1', kind: 'Service' });
    expect((patch?.parameters as JsonObject[]).map((p) => p.name)).toContain('fieldValidation');
  });

  it('carries the field docs kubectl explain prints, with v3 references', () => {
    const doc = JSON.parse(docs.v3.get('api/v1')?.body ?? '{}') as { components: { schemas: Record<string, JsonObject> } };
    const spec = doc.components.schemas['io.k8s.api.core.v1.ServiceSpec'];
    const props = isObject(spec?.properties) ? spec.properties : {};
    expect(JSON.stringify(props.loadBalancerClass)).toContain('loadBalancerClass is the class of the load balancer implementation');
    expect(props.ports).toMatchObject({ items: { $ref: '#/components/schemas/io.k8s.api.core.v1.ServicePort' }, 'x-kubernetes-list-map-keys': ['port', 'protocol'] });
  });

  it('documents fields whose type is another definition or an IntOrString, wrapping a $ref with siblings in allOf in v3', () => {
    const doc = JSON.parse(docs.v3.get('apis/apps/v1')?.body ?? '{}') as { components: { schemas: Record<string, { properties: Record<string, JsonObject> }> } };
    const schemas = doc.components.schemas;
    expect(schemas['io.k8s.api.apps.v1.Deployment']?.properties.spec).toEqual({
      description: 'Specification of the desired behavior of the Deployment.',
      allOf: [{ $ref: '#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec' }],
    });
    expect(schemas['io.k8s.api.apps.v1.RollingUpdateDeployment']?.properties.maxSurge?.description).toMatch(/^The maximum number of pods that can be scheduled above the desired number of pods\./);
    const v2 = JSON.parse(docs.v2) as { definitions: Record<string, { properties: Record<string, JsonObject> }> };
    expect(v2.definitions['io.k8s.api.apps.v1.Deployment']?.properties.spec).toEqual({ description: 'Specification of the desired behavior of the Deployment.', $ref: '#/definitions/io.k8s.api.apps.v1.DeploymentSpec' });
  });

  it('keeps v2 references in the v2 document', () => {
    const doc = JSON.parse(docs.v2) as { swagger: string; definitions: Record<string, JsonObject> };
    expect(doc.swagger).toBe('2.0');
    expect(JSON.stringify(doc.definitions['io.k8s.api.core.v1.Service'])).toContain('#/definitions/io.k8s.api.core.v1.ServiceSpec');
  });
});

describe('/openapi/v2 in protobuf (gnostic openapi.v2.Document)', () => {
  const codec = createProtobufCodec([openApiV2], []);
  const doc = {
    swagger: '2.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths: { '/api/v1/namespaces/{namespace}/services': { post: { operationId: 'postService', 'x-kubernetes-action': 'post', consumes: ['application/json'], parameters: [{ name: 'body', in: 'body', required: true, schema: { $ref: '#/definitions/io.k8s.api.core.v1.Service' } }, { name: 'dryRun', in: 'query', type: 'string', uniqueItems: true }], responses: { '200': { description: 'OK', schema: { $ref: '#/definitions/io.k8s.api.core.v1.Service' } } } } } },
    definitions: {
      'io.k8s.api.core.v1.ServicePort': { type: 'object', required: ['port'], properties: { protocol: { type: 'string', default: 'TCP' }, port: { type: 'integer', format: 'int32' } }, 'x-kubernetes-map-type': 'atomic' },
      'io.k8s.api.core.v1.ServiceSpec': { type: 'object', properties: { ports: { type: 'array', items: { $ref: '#/definitions/io.k8s.api.core.v1.ServicePort' }, 'x-kubernetes-list-map-keys': ['port', 'protocol'] }, selector: { type: 'object', additionalProperties: { type: 'string' } } } },
    },
  };

  it('turns maps into Named lists, $ref into _ref, types into TypeItems and x- keys into YAML vendor extensions', () => {
    const decoded = codec.decodeMessage(encodeOpenApiV2(doc), 'openapi.v2.Document');
    expect(decoded).toMatchObject({ swagger: '2.0', info: { title: 'Kubernetes', version: 'v1.32.0' } });
    expect(decoded.definitions).toEqual({
      additionalProperties: [
        {
          name: 'io.k8s.api.core.v1.ServicePort',
          value: {
            required: ['port'],
            type: { value: ['object'] },
            properties: { additionalProperties: [{ name: 'protocol', value: { type: { value: ['string'] }, default: { yaml: 'TCP\n' } } }, { name: 'port', value: { format: 'int32', type: { value: ['integer'] } } }] },
            vendorExtension: [{ name: 'x-kubernetes-map-type', value: { yaml: 'atomic\n' } }],
          },
        },
        {
          name: 'io.k8s.api.core.v1.ServiceSpec',
          value: {
            type: { value: ['object'] },
            properties: {
              additionalProperties: [
                { name: 'ports', value: { type: { value: ['array'] }, items: { schema: [{ _ref: '#/definitions/io.k8s.api.core.v1.ServicePort' }] }, vendorExtension: [{ name: 'x-kubernetes-list-map-keys', value: { yaml: '- port\n- protocol\n' } }] } },
                { name: 'selector', value: { type: { value: ['object'] }, additionalProperties: { schema: { type: { value: ['string'] } } } } },
              ],
            },
          },
        },
      ],
    });
    const post = ((decoded.paths as { path: Array<{ value: { post: JsonObject } }> }).path[0]?.value.post ?? {});
    expect(post).toMatchObject({
      operationId: 'postService',
      consumes: ['application/json'],
      parameters: [
        { parameter: { bodyParameter: { name: 'body', in: 'body', required: true, schema: { _ref: '#/definitions/io.k8s.api.core.v1.Service' } } } },
        { parameter: { nonBodyParameter: { queryParameterSubSchema: { name: 'dryRun', in: 'query', type: 'string', uniqueItems: true } } } },
      ],
      responses: { responseCode: [{ name: '200', value: { response: { description: 'OK', schema: { schema: { _ref: '#/definitions/io.k8s.api.core.v1.Service' } } } } }] },
      vendorExtension: [{ name: 'x-kubernetes-action', value: { yaml: 'post\n' } }],
    });
  });

  it.each([
    { name: 'kubectl and client-go', accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf', want: 'protobuf' },
    { name: 'the newer protobuf name', accept: 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf', want: 'protobuf' },
    { name: 'JSON', accept: 'application/json', want: 'json' },
    { name: 'no Accept', accept: undefined, want: 'json' },
    { name: 'HTML', accept: 'text/html', want: undefined },
  ])('answers $name with $want', ({ accept, want }) => {
    expect(negotiateOpenApiV2(accept)).toBe(want);
  });
});
