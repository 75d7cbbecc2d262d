import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNegotiator } from '../../src/sandbox/apiserver/negotiation.js';
import { servedProtobufCodec } from '../../src/sandbox/apiserver/protobuf/served.js';
import { queryBool } from '../../src/sandbox/apiserver/query.js';

const codec = servedProtobufCodec();
const fixture = (name: string): Uint8Array => Buffer.from(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'protobuf', name), 'utf8').trim(), 'hex');

describe('the protobuf codec of the sandbox API server', () => {
  it('encodes a ConfigMap to hand-checked bytes: k8s\\0 magic, runtime.Unknown{typeMeta, raw, contentEncoding, contentType}', () => {
    const hex = [
      '6b387300', // magic "k8s\0"
      '0a0f', // Unknown.typeMeta (1, 15 bytes)
      '0a027631', // TypeMeta.apiVersion (1) "v1"
      '1209436f6e6669674d6170', // TypeMeta.kind (2) "ConfigMap"
      '120d', // Unknown.raw (2, 13 bytes): the ConfigMap message
      '0a030a0163', // ConfigMap.metadata (1) { ObjectMeta.name (1) "c" }
      '12060a0161120162', // ConfigMap.data (2) map entry { key (1) "a", value (2) "b" }
      '1a00', // Unknown.contentEncoding (3) ""
      '2200', // Unknown.contentType (4) ""
    ].join('');
    const got = codec.encodeObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } });
    expect(Buffer.from(got ?? []).toString('hex')).toBe(hex);
  });

  it('decodes the bytes kubectl v1.32 sends for `create configmap`, dropping the empty fields Go writes', () => {
    expect(codec.decodeObject(fixture('kubectl-create-configmap.hex'))).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'fixture' }, data: { greeting: 'hello' } });
  });

  it('decodes the bytes kubectl v1.32 sends for `create service loadbalancer`: IntOrString, maps, repeated messages', () => {
    expect(codec.decodeObject(fixture('kubectl-create-service-loadbalancer.hex'))).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: { ports: [{ name: '80-8080', protocol: 'TCP', port: 80, targetPort: 8080 }], selector: { app: 'web' }, type: 'LoadBalancer' },
      status: { loadBalancer: {} },
    });
  });

  it('decodes the bytes kubectl v1.32 sends for `create deployment web --image=nginx:1.15-alpine --port=80`: selector, Pod template, containers, ports', () => {
    expect(codec.decodeObject(fixture('kubectl-create-deployment.hex'))).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.15-alpine', ports: [{ containerPort: 80 }], resources: {} }] } },
        strategy: {},
      },
      status: {},
    });
  });

  const roundTrips = [
    {
      name: 'a Service with times, a named targetPort, pointer fields set to their zero value and a status',
      obj: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'default', uid: 'u-1', resourceVersion: '42', generation: 3, creationTimestamp: '2026-12-04T12:00:00Z', annotations: { b: '2', a: '1' }, finalizers: ['x'] },
        spec: {
          type: 'LoadBalancer',
          ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 'http', nodePort: 30080 }],
          allocateLoadBalancerNodePorts: false,
          loadBalancerClass: '',
          ipFamilies: ['IPv4', 'IPv6'],
          ipFamilyPolicy: 'PreferDualStack',
        },
        status: { loadBalancer: { ingress: [{ ip: '192.0.2.10', ipMode: 'VIP' }] }, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-12-04T12:00:01Z', reason: 'R', message: 'm' }] },
      },
    },
    {
      name: 'a Lease with MicroTimes and an int32 of 0',
      obj: {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'node-a', namespace: 'kube-node-lease' },
        spec: { holderIdentity: 'node-a', leaseDurationSeconds: 40, leaseTransitions: 0, renewTime: '2026-12-04T12:00:00.123456Z' },
      },
    },
    { name: 'a Secret with bytes (base64 in JSON)', obj: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, type: 'Opaque', data: { pw: Buffer.from([0, 1, 255]).toString('base64') } } },
    { name: 'a Node with Quantities', obj: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, status: { capacity: { cpu: '2', memory: '4Gi' }, addresses: [{ type: 'InternalIP', address: '192.0.2.1' }] } } },
    {
      name: 'an EndpointSlice with presence bools',
      obj: { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'e' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: false, serving: true } }], ports: [{ port: 80 }] },
    },
    { name: 'a list', obj: { apiVersion: 'v1', kind: 'ConfigMapList', metadata: { resourceVersion: '7', continue: 'abc', remainingItemCount: 0 }, items: [{ metadata: { name: 'a' } }, { metadata: { name: 'b' } }] } },
    {
      name: 'a Status error with causes',
      obj: { apiVersion: 'v1', kind: 'Status', metadata: {}, status: 'Failure', message: 'bad', reason: 'Invalid', code: 422, details: { name: 'x', kind: 'Service', causes: [{ reason: 'FieldValueInvalid', field: 'spec.ports[0].port', message: 'no' }] } },
    },
    { name: 'an events.k8s.io Event', obj: { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'ev' }, eventTime: '2026-12-04T12:00:00.000001Z', regarding: { kind: 'Service', name: 'web' }, note: 'n', type: 'Normal', reason: 'R', action: 'A', reportingController: 'c', reportingInstance: 'i' } },
  ];

  it.each(roundTrips)('round-trips $name', ({ obj }) => {
    const bytes = codec.encodeObject(obj);
    expect(bytes).toBeDefined();
    expect(codec.decodeObject(bytes ?? new Uint8Array())).toEqual(obj);
  });

  it('skips unknown field numbers, as the generated unmarshallers of k8s.io/api do', () => {
    const raw = [
      '0a030a0163', // ConfigMap.metadata (1) { name (1) "c" }
      '980607', // field 99, varint 7: no such field
      '9206027879', // field 98, string "xy": no such field
    ].join('');
    const patched = Buffer.from(`6b387300` + `0a0f0a0276311209436f6e6669674d6170` + `120d${raw}` + `1a002200`, 'hex');
    expect(codec.decodeObject(patched)).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } });
  });

  it('reads a repeated integer field packed or not, as the generated unmarshallers do', () => {
    // PodSecurityContext.supplementalGroups (4): unpacked, as gogo writes proto2, then packed.
    expect(codec.decodeMessage(Buffer.from('20012002', 'hex'), 'core.v1.PodSecurityContext')).toEqual({ supplementalGroups: [1, 2] });
    expect(codec.decodeMessage(Buffer.from('22020102', 'hex'), 'core.v1.PodSecurityContext')).toEqual({ supplementalGroups: [1, 2] });
  });

  it('nests an embedded Go struct on the wire and inlines it in JSON (Probe.handler = 1)', () => {
    const probe = { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 3 };
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', readinessProbe: probe }] } };
    const raw = codec.decodeMessage(Buffer.from(codec.encodeObject(pod) ?? []).subarray(4), 'runtime.Unknown');
    const bytes = Buffer.from(String(raw.raw), 'base64');
    // Probe { handler (1) { httpGet (2) { path (1) "/healthz", port (2) IntOrString } }, periodSeconds (4) 3 }
    expect(bytes.toString('hex')).toContain('0a1812160a082f6865616c74687a120a080110001a04687474702003');
    expect(codec.decodeObject(codec.encodeObject(pod) ?? new Uint8Array())).toEqual(pod);
  });

  it('refuses a body without the magic and a kind it does not serve, saying why', () => {
    expect(() => codec.decodeObject(Buffer.from('{"kind":"ConfigMap"}'))).toThrow(/does not appear to be a protobuf message/);
    const pod = codec.encodeObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'p' } }) ?? new Uint8Array();
    const asPod = Buffer.from(Buffer.from(pod).toString('latin1').replace('\x09ConfigMap', '\x09PodXXXXXX'), 'latin1');
    expect(() => codec.decodeObject(asPod)).toThrow('no kind "PodXXXXXX" is registered for version "v1"');
  });

  it('frames a watch event as kube-apiserver does: 4-byte big-endian length, WatchEvent{type, RawExtension{enveloped object}}', () => {
    const object = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } };
    const frame = codec.watchFrame({ type: 'MODIFIED', object });
    const length = Buffer.from(frame).readUInt32BE(0);
    expect(length).toBe(frame.length - 4);
    const enveloped = codec.encodeObject(object) ?? new Uint8Array();
    // WatchEvent.type (1) "MODIFIED", then WatchEvent.object (2) { RawExtension.raw (1) <enveloped> }.
    const want = Buffer.concat([Buffer.from('0a084d4f444946494544', 'hex'), Buffer.from([0x12, enveloped.length + 2, 0x0a, enveloped.length]), enveloped]);
    expect(Buffer.from(frame.subarray(4)).toString('hex')).toBe(want.toString('hex'));
    expect(codec.decodeMessage(frame.subarray(4), 'meta.v1.WatchEvent')).toEqual({ type: 'MODIFIED', object });
  });
});

describe('protobuf request bodies', () => {
  const negotiator = createNegotiator(codec);
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } };

  it('turns a truncated protobuf body into a 400 that says so', () => {
    const bytes = Buffer.from(codec.encodeObject(cm) ?? []);
    expect(() => negotiator.decodeBody('application/vnd.kubernetes.protobuf', bytes.subarray(0, bytes.length - 8), 'required')).toThrow(/^the request body is not valid protobuf: /);
  });
});

describe('boolean query parameters, as kube-apiserver converts them (Convert_Slice_string_To_bool)', () => {
  it.each([
    { name: 'absent', query: '', want: false },
    { name: 'true', query: 'watch=true', want: true },
    { name: 'Python True', query: 'watch=True', want: true },
    { name: '1', query: 'watch=1', want: true },
    { name: 'empty value', query: 'watch=', want: true },
    { name: 'any other word', query: 'watch=yes', want: true },
    { name: 'false', query: 'watch=false', want: false },
    { name: 'FALSE', query: 'watch=FALSE', want: false },
    { name: 'False', query: 'watch=False', want: false },
    { name: '0', query: 'watch=0', want: false },
  ])('$name -> $want', ({ query, want }) => {
    expect(queryBool(new URLSearchParams(query), 'watch')).toBe(want);
  });
});
