import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/sandbox/apiserver/object.js';
import { servedProtobufCodec } from '../../src/sandbox/apiserver/protobuf/served.js';
import { createServiceAdmission } from '../../src/sandbox/apiserver/service.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';

const codec = servedProtobufCodec();
const protobuf = 'application/vnd.kubernetes.protobuf';

interface Reply {
  readonly code: number;
  readonly contentType: string;
  readonly body: Buffer;
}

/** One HTTPS request to the server, the whole body read. */
function send(api: TestApiServer, method: string, path: string, headers: Record<string, string>, body?: Uint8Array): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${api.url}${path}`, { method, ca: api.cert?.cert, headers: { authorization: `Bearer ${api.token}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ code: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Opens a protobuf watch and collects its frames until `count` events arrived. */
function watchFrames(api: TestApiServer, path: string, count: number): { readonly events: Promise<JsonObject[]>; readonly contentType: Promise<string> } {
  let setType: (t: string) => void = () => undefined;
  const contentType = new Promise<string>((r) => (setType = r));
  const events = new Promise<JsonObject[]>((resolve, reject) => {
    const got: JsonObject[] = [];
    let pending = Buffer.alloc(0);
    const req = request(`${api.url}${path}`, { ca: api.cert?.cert, headers: { authorization: `Bearer ${api.token}`, accept: `${protobuf},application/json` } }, (res) => {
      setType(res.headers['content-type'] ?? '');
      res.on('data', (c: Buffer) => {
        pending = Buffer.concat([pending, c]);
        while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
          const size = pending.readUInt32BE(0);
          got.push(codec.decodeMessage(pending.subarray(4, 4 + size), 'meta.v1.WatchEvent'));
          pending = pending.subarray(4 + size);
        }
        if (got.length >= count) {
          req.destroy();
          resolve(got);
        }
      });
    });
    req.on('error', (e) => {
      if (got.length < count) reject(e);
    });
    req.end();
  });
  return { events, contentType };
}

const configMap = (name: string, data: Record<string, string>): JsonObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });
const decode = (r: Reply): JsonObject => codec.decodeObject(r.body);

describe('protobuf to and from the sandbox API server, without kubectl', () => {
  let api: TestApiServer;
  const post = (path: string, obj: JsonObject, query = ''): Promise<Reply> =>
    send(api, 'POST', `${path}${query}`, { 'content-type': protobuf, accept: `${protobuf},application/json` }, codec.encodeObject(obj));

  beforeAll(async () => {
    api = await startTestApiServer({ admission: new Map([['/services', createServiceAdmission()]]) });
  });
  afterAll(async () => {
    await api.close();
  });

  it('creates from a protobuf body and answers in protobuf when Accept prefers it', async () => {
    const created = await post('/api/v1/namespaces/default/configmaps', configMap('pb', { a: 'b' }));
    expect(created).toMatchObject({ code: 201, contentType: protobuf });
    expect(decode(created)).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pb', namespace: 'default' }, data: { a: 'b' } });
    const json = await send(api, 'GET', '/api/v1/namespaces/default/configmaps/pb', { accept: 'application/json' });
    expect(json.contentType).toBe('application/json');
    expect(JSON.parse(json.body.toString())).toMatchObject({ data: { a: 'b' } });
  });

  it('accepts the bytes kubectl v1.32 sent for `create service loadbalancer` (captured, not made by this codec)', async () => {
    const body = Buffer.from(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'protobuf', 'kubectl-create-service-loadbalancer.hex'), 'utf8').trim(), 'hex');
    const reply = await send(api, 'POST', '/api/v1/namespaces/default/services?fieldManager=kubectl-create&fieldValidation=Strict', { 'content-type': protobuf, accept: `${protobuf},application/json` }, body);
    expect(reply.code).toBe(201);
    const svc = decode(reply);
    expect(svc).toMatchObject({ kind: 'Service', metadata: { name: 'web' }, spec: { type: 'LoadBalancer', ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] } });
    expect((svc.spec as JsonObject).clusterIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });

  it('lists in protobuf (ConfigMapList) and writes errors as a protobuf Status', async () => {
    const list = decode(await send(api, 'GET', '/api/v1/namespaces/default/configmaps', { accept: protobuf }));
    expect(list).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMapList', items: [{ metadata: { name: 'pb' } }] });
    expect(Number((list.metadata as JsonObject).resourceVersion)).toBeGreaterThan(0);
    const missing = await send(api, 'GET', '/api/v1/namespaces/default/configmaps/nope', { accept: protobuf });
    expect(missing).toMatchObject({ code: 404, contentType: protobuf });
    expect(decode(missing)).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'configmaps "nope" not found' });
  });

  it('answers a body that is not protobuf with a 400 that says so, in the negotiated type', async () => {
    const reply = await send(api, 'POST', '/api/v1/namespaces/default/configmaps', { 'content-type': protobuf, accept: 'application/json' }, Buffer.from('{"kind":"ConfigMap"}'));
    expect(reply).toMatchObject({ code: 400, contentType: 'application/json' });
    expect(JSON.parse(reply.body.toString())).toMatchObject({ reason: 'BadRequest', message: expect.stringContaining('does not appear to be a protobuf message') as unknown });
  });

  it('streams a watch from a resourceVersion as length-prefixed protobuf frames: MODIFIED, then DELETED', async () => {
    const created = decode(await post('/api/v1/namespaces/default/configmaps', configMap('watched', { v: '1' })));
    const rv = String((created.metadata as JsonObject).resourceVersion);
    const watch = watchFrames(api, `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${rv}&fieldSelector=metadata.name%3Dwatched`, 2);
    expect(await watch.contentType).toBe(`${protobuf};stream=watch`);
    const update = { ...created, data: { v: '2' } };
    expect((await send(api, 'PUT', '/api/v1/namespaces/default/configmaps/watched', { 'content-type': protobuf, accept: protobuf }, codec.encodeObject(update))).code).toBe(200);
    expect((await send(api, 'DELETE', '/api/v1/namespaces/default/configmaps/watched', { accept: protobuf })).code).toBe(200);
    const events = await watch.events;
    expect(events.map((e) => e.type)).toEqual(['MODIFIED', 'DELETED']);
    expect(events[0]).toMatchObject({ object: { kind: 'ConfigMap', metadata: { name: 'watched' }, data: { v: '2' } } });
  });

  it('reads and writes the scale subresource as a protobuf autoscaling/v1 Scale', async () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'scaled' },
      spec: { replicas: 2, selector: { matchLabels: { app: 'scaled' } }, template: { metadata: { labels: { app: 'scaled' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
    };
    expect((await post('/apis/apps/v1/namespaces/default/deployments', deployment)).code).toBe(201);
    const scalePath = '/apis/apps/v1/namespaces/default/deployments/scaled/scale';
    const read = await send(api, 'GET', scalePath, { accept: `${protobuf},application/json` });
    expect(read.contentType).toBe(protobuf);
    const scale = decode(read);
    expect(scale).toMatchObject({ apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'scaled' }, spec: { replicas: 2 }, status: { replicas: 0, selector: 'app=scaled' } });
    // Scale to 0: ScaleSpec.replicas has omitempty, so the 0 is not on the wire at all.
    const written = await send(api, 'PUT', scalePath, { 'content-type': protobuf, accept: protobuf }, codec.encodeObject({ ...scale, spec: { replicas: 0 } }));
    expect(written).toMatchObject({ code: 200, contentType: protobuf });
    expect(decode(written)).toMatchObject({ kind: 'Scale', status: { replicas: 0 } });
    const stored = JSON.parse((await send(api, 'GET', '/apis/apps/v1/namespaces/default/deployments/scaled', { accept: 'application/json' })).body.toString()) as { spec: { replicas: number } };
    expect(stored.spec.replicas).toBe(0);
  });

  it('validates but does not persist with dryRun=All', async () => {
    const reply = await post('/api/v1/namespaces/default/configmaps', configMap('dry', { a: 'b' }), '?dryRun=All');
    expect(reply.code).toBe(200);
    expect(decode(reply)).toMatchObject({ metadata: { name: 'dry' } });
    expect((await send(api, 'GET', '/api/v1/namespaces/default/configmaps/dry', { accept: protobuf })).code).toBe(404);
  });

  it('checks resourceVersionMatch as kube-apiserver does and ignores unknown query parameters', async () => {
    const bad = await send(api, 'GET', '/api/v1/namespaces/default/configmaps?resourceVersionMatch=NotOlderThan', { accept: 'application/json' });
    expect(bad.code).toBe(422);
    expect(JSON.parse(bad.body.toString())).toMatchObject({
      reason: 'Invalid',
      message: 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided',
    });
    const ok = await send(api, 'GET', '/api/v1/namespaces/default/configmaps?resourceVersionMatch=NotOlderThan&resourceVersion=1&noSuchParameter=x', { accept: protobuf });
    expect(ok.code).toBe(200);
    expect(decode(ok)).toMatchObject({ kind: 'ConfigMapList' });
  });
});
