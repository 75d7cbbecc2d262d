import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceAdmission } from '../../src/sandbox/apiserver/service.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';

/** Raw HTTP: field validation and server-side apply as any client sees them on the wire. */
describe('field validation and server-side apply over HTTP', () => {
  let api: TestApiServer;
  const send = (method: string, path: string, body: string, contentType = 'application/json') =>
    fetch(`${api.url}${path}`, { method, headers: { authorization: `Bearer ${api.token}`, 'content-type': contentType }, body });
  const services = '/api/v1/namespaces/default/services';
  const svc = (name: string, spec: Record<string, unknown>) => JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ports: [{ port: 80 }], ...spec } });

  beforeAll(async () => {
    api = await startTestApiServer({ tls: false, admission: new Map([['/services', createServiceAdmission()]]) });
  });
  afterAll(async () => {
    await api.close();
  });

  it('warns by default about unknown fields (RFC 7234 Warning, code 299) and drops them', async () => {
    const res = await send('POST', services, svc('warned', { foo: 1, bar: { x: 1 } }));
    expect(res.status).toBe(201);
    expect(res.headers.get('warning')).toBe('299 - "unknown field \\"spec.foo\\"", 299 - "unknown field \\"spec.bar\\""');
    expect(((await res.json()) as { spec: Record<string, unknown> }).spec).not.toHaveProperty('foo');
  });

  it.each([
    { name: 'Strict', query: '?fieldValidation=Strict', code: 400, message: 'Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.foo"' },
    { name: 'an unknown mode', query: '?fieldValidation=strict', code: 400, message: 'fieldValidation: invalid value "strict": must be one of Ignore, Warn or Strict' },
  ])('refuses with $name', async ({ query, code, message }) => {
    const res = await send('POST', `${services}${query}`, svc('refused', { foo: 1 }));
    expect(res.status).toBe(code);
    expect(await res.json()).toMatchObject({ kind: 'Status', message });
  });

  it('reports a repeated key of a JSON body as a duplicate field, as a warning or (Strict) a 400', async () => {
    const body = '{"apiVersion":"v1","kind":"Service","metadata":{"name":"dup"},"spec":{"type":"ClusterIP","ports":[{"port":80}],"type":"NodePort"}}';
    const strict = await send('POST', `${services}?fieldValidation=Strict`, body);
    expect(strict.status).toBe(400);
    expect(await strict.json()).toMatchObject({ message: 'Service in version "v1" cannot be handled as a Service: strict decoding error: duplicate field "spec.type"' });
    const warned = await send('POST', services, body);
    expect(warned.status).toBe(201);
    expect(warned.headers.get('warning')).toBe('299 - "duplicate field \\"spec.type\\""');
    expect(await warned.json()).toMatchObject({ spec: { type: 'NodePort' } });
  });

  it('requires a fieldManager for an apply patch (422), and creates from a YAML body with an Apply entry', async () => {
    const yaml = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: "1"\n';
    const missing = await send('PATCH', '/api/v1/namespaces/default/configmaps/applied', yaml, 'application/apply-patch+yaml');
    expect(missing.status).toBe(422);
    expect(await missing.json()).toMatchObject({ message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch' });
    const created = await send('PATCH', '/api/v1/namespaces/default/configmaps/applied?fieldManager=ci', yaml, 'application/apply-patch+yaml');
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ data: { a: '1' }, metadata: { managedFields: [{ manager: 'ci', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:data': { 'f:a': {} } } }] } });
  });

  it('answers a conflicting apply with 409 and FieldManagerConflict causes', async () => {
    const path = '/api/v1/namespaces/default/configmaps/applied?fieldManager=other';
    const res = await send('PATCH', path, JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied' }, data: { a: '2' } }), 'application/apply-patch+yaml');
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({
      reason: 'Conflict',
      message: 'Apply failed with 1 conflict: conflict with "ci": .data.a',
      details: { causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "ci"', field: '.data.a' }] },
    });
  });

  it('serves a v3 document named by its hash as immutable, with the hash as ETag', async () => {
    const index = (await (await fetch(`${api.url}/openapi/v3`, { headers: { authorization: `Bearer ${api.token}` } })).json()) as { paths: Record<string, { serverRelativeURL: string }> };
    const url = index.paths['api/v1']?.serverRelativeURL ?? '';
    const res = await fetch(`${api.url}${url}`, { headers: { authorization: `Bearer ${api.token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, immutable');
    expect(res.headers.get('etag')).toBe(`"${url.split('hash=')[1] ?? ''}"`);
  });
});
