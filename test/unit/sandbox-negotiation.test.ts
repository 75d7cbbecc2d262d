import { describe, expect, it } from 'vitest';
import { createNegotiator } from '../../src/sandbox/apiserver/negotiation.js';
import { servedProtobufCodec } from '../../src/sandbox/apiserver/protobuf/served.js';
import { ApiStatusError } from '../../src/sandbox/apiserver/status.js';

const codec = servedProtobufCodec();
const negotiator = createNegotiator(codec, { tables: true });
const protobuf = 'application/vnd.kubernetes.protobuf';
const table = 'as=Table;v=v1;g=meta.k8s.io';
const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } };

/** The status a throwing call ends with, as the server would write it. */
function statusOf(f: () => unknown): { code: number; reason: string; message: string } | undefined {
  try {
    f();
    return undefined;
  } catch (e: unknown) {
    if (!(e instanceof ApiStatusError)) throw e;
    const s = e.toStatus();
    return { code: e.code, reason: String(s.reason), message: String(s.message) };
  }
}

describe('Accept negotiation, as kube-apiserver NegotiateMediaTypeOptions does it', () => {
  it.each([
    { name: 'client-go typed clients', accept: `${protobuf},application/json`, want: protobuf, table: false },
    { name: 'kubectl get (Tables)', accept: `application/json;${table},application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json`, want: 'application/json', table: true },
    { name: 'a Table in protobuf (none exists), then JSON: the object in JSON', accept: `${protobuf};${table},application/json`, want: 'application/json', table: false },
    { name: 'a Table in protobuf, then protobuf: the object in protobuf', accept: `${protobuf};${table},${protobuf}`, want: protobuf, table: false },
    { name: 'a Table in YAML', accept: `application/yaml;${table}`, want: 'application/yaml', table: true },
    { name: 'metadata only (not served), then JSON', accept: `${protobuf};as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json`, want: 'application/json', table: false },
    { name: "kubectl's aggregated discovery, then legacy", accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json', want: 'application/json', table: false },
    { name: 'JSON first', accept: `application/json, ${protobuf}`, want: 'application/json', table: false },
    { name: 'quality decides', accept: `application/json;q=0.5, ${protobuf}`, want: protobuf, table: false },
    { name: 'the specific before a wildcard of the same quality', accept: `*/*, ${protobuf}`, want: protobuf, table: false },
    { name: 'anything', accept: '*/*', want: 'application/json', table: false },
    { name: 'any application type', accept: 'application/*', want: 'application/json', table: false },
    { name: 'YAML', accept: 'application/yaml', want: 'application/yaml', table: false },
    { name: 'no Accept', accept: undefined, want: 'application/json', table: false },
  ])('$name -> $want', ({ accept, want, table: asTable }) => {
    const negotiated = negotiator.negotiate(accept);
    expect(negotiated.ok && { mediaType: negotiated.value.mediaType, contentType: negotiated.value.encode(cm).contentType, table: negotiated.value.table }).toEqual({ mediaType: want, contentType: want, table: asTable });
  });

  it.each([
    { name: 'HTML', accept: 'text/html', tables: true },
    { name: 'a Table only, where no Table renderer is configured', accept: `application/json;${table}`, tables: false },
    { name: 'a server version', accept: 'application/json;sv=v2', tables: true },
  ])('refuses $name with 406 and the real message', ({ accept, tables }) => {
    const negotiated = createNegotiator(codec, { tables }).negotiate(accept);
    expect(negotiated.ok ? undefined : statusOf(() => { throw negotiated.error; })).toEqual({
      code: 406,
      reason: 'NotAcceptable',
      message: 'only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf',
    });
  });

  it('writes YAML when asked', () => {
    const negotiated = negotiator.negotiate('application/yaml');
    expect(negotiated.ok && negotiated.value.encode(cm).data).toBe('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n');
  });

  it('streams watches in JSON or protobuf, and refuses YAML with the stream media types', () => {
    expect(negotiator.watchEncoding(`${protobuf};stream=watch,${protobuf},application/json`).contentType).toBe(`${protobuf};stream=watch`);
    expect(negotiator.watchEncoding(`application/json;${table}`).contentType).toBe('application/json');
    expect(statusOf(() => negotiator.watchEncoding('application/yaml'))).toEqual({
      code: 406,
      reason: 'NotAcceptable',
      message: 'only the following media types are accepted: application/json;stream=watch, application/vnd.kubernetes.protobuf;stream=watch',
    });
  });
});

describe('Content-Type of request bodies', () => {
  it.each([
    { name: 'JSON', contentType: 'application/json', body: '{"a":1}' },
    { name: 'JSON with a charset', contentType: 'application/json; charset=utf-8', body: '{"a":1}' },
    { name: 'no Content-Type (JSON, the first served type)', contentType: undefined, body: '{"a":1}' },
    { name: 'YAML', contentType: 'application/yaml', body: 'a: 1\n' },
  ])('decodes $name', ({ contentType, body }) => {
    expect(negotiator.decodeBody(contentType, Buffer.from(body), 'required')).toEqual({ a: 1 });
  });

  it.each([
    { name: 'a form (curl -d without -H)', contentType: 'application/x-www-form-urlencoded' },
    { name: 'a patch type on a create', contentType: 'application/merge-patch+json' },
  ])('refuses $name with 415 and the real message', ({ contentType }) => {
    expect(statusOf(() => negotiator.decodeBody(contentType, Buffer.from('{}'), 'required'))).toEqual({
      code: 415,
      reason: 'UnsupportedMediaType',
      message: 'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf',
    });
  });
});
