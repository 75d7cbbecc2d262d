import { describe, expect, it } from 'vitest';
import { decodeFieldsV1, encodeFieldsV1, printPath, toFieldSet } from '../../src/sandbox/apiserver/field-set.js';
import { applyConfig, conflictMessage, decodeManagedFields, trackUpdate, type FieldContext } from '../../src/sandbox/apiserver/managed-fields.js';
import type { JsonObject } from '../../src/sandbox/apiserver/object.js';
import { builtInSchemas } from '../../src/sandbox/apiserver/openapi-schema.js';

const index = builtInSchemas();
const serviceSchema = index.schemaOf({ group: '', version: 'v1', kind: 'Service' }) ?? {};
const configMapSchema = index.schemaOf({ group: '', version: 'v1', kind: 'ConfigMap' }) ?? {};
const now = new Date('2026-12-04T12:00:00.123Z');

function ctx(kind: 'Service' | 'ConfigMap', subresource = ''): FieldContext {
  return { index, schema: kind === 'Service' ? serviceSchema : configMapSchema, apiVersion: 'v1', subresource, hasStatus: kind === 'Service', now };
}

function service(spec: JsonObject, metadata: JsonObject = {}): JsonObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default', ...metadata }, spec };
}

function withManaged(obj: JsonObject, managedFields: JsonObject[]): JsonObject {
  return { ...obj, metadata: { ...(obj.metadata as JsonObject), managedFields } };
}

describe('FieldsV1 encoding', () => {
  it('encodes list-map items by their keys (defaults filled in), members with children get "."', () => {
    const config = service({ type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }, { labels: { app: 'web' } });
    const fields = encodeFieldsV1(toFieldSet(index, serviceSchema, config));
    expect(fields['f:spec']).toEqual({
      'f:ports': { 'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:port': {}, 'f:targetPort': {} } },
      'f:selector': {},
      'f:type': {},
    });
    expect(fields['f:metadata']).toEqual({ 'f:labels': { 'f:app': {} }, 'f:name': {}, 'f:namespace': {} });
  });

  it.each([
    { name: 'list-map item field', path: ['f:spec', 'f:ports', 'k:{"port":80,"protocol":"TCP"}', 'f:targetPort'], printed: '.spec.ports[port=80,protocol="TCP"].targetPort' },
    { name: 'set value', path: ['f:metadata', 'f:finalizers', 'v:"a"'], printed: '.metadata.finalizers[="a"]' },
    { name: 'index', path: ['f:items', 'i:0'], printed: '.items[0]' },
  ])('prints $name as structured-merge-diff does', ({ path, printed }) => {
    expect(printPath(path.join('\u0001'))).toBe(printed);
  });

  it('decodes what it encodes', () => {
    const set = toFieldSet(index, serviceSchema, service({ ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }], selector: {} }));
    expect(decodeFieldsV1(encodeFieldsV1(set))).toEqual(set);
  });
});

describe('update tracking', () => {
  it('records a create as one Update entry, lists and free-form maps being members themselves', () => {
    const created = service({ type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP' }] }, { annotations: { a: 'b' } });
    const [entry] = trackUpdate(ctx('Service'), undefined, created, [], 'kubectl-create');
    expect(entry).toMatchObject({ manager: 'kubectl-create', operation: 'Update', apiVersion: 'v1', time: '2026-12-04T12:00:00Z', fieldsType: 'FieldsV1' });
    expect(entry?.fieldsV1).toEqual({
      'f:metadata': { 'f:annotations': { '.': {}, 'f:a': {} } },
      'f:spec': { 'f:ports': { '.': {}, 'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:port': {}, 'f:protocol': {} } }, 'f:type': {} },
    });
  });

  it('moves a changed field to the writer and drops removed fields from everyone', () => {
    const before = service({ type: 'ClusterIP', sessionAffinity: 'None' });
    const first = trackUpdate(ctx('Service'), undefined, before, [], 'a');
    const after = service({ type: 'LoadBalancer' });
    const second = trackUpdate(ctx('Service'), withManaged(before, first), after, decodeManagedFields(withManaged(before, first)), 'b');
    expect(second.map((e) => [e.manager, e.fieldsV1])).toEqual([['b', { 'f:spec': { 'f:type': {} } }]]);
  });

  it('records status writes under the status subresource only', () => {
    const before = service({ type: 'LoadBalancer' });
    const after = { ...before, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } };
    const [entry] = trackUpdate(ctx('Service', 'status'), before, after, [], 'ironlb-controller');
    expect(entry).toMatchObject({ subresource: 'status', fieldsV1: { 'f:status': { 'f:loadBalancer': { 'f:ingress': {} } } } });
  });
});

describe('server-side apply', () => {
  const live = service({ type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] });
  const liveManaged = trackUpdate(ctx('Service'), undefined, live, [], 'kubectl-client-side-apply');
  const managers = decodeManagedFields(withManaged(live, liveManaged));

  it.each([
    {
      name: 'a changed field owned by an Update manager',
      config: service({ type: 'LoadBalancer' }),
      message: 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .spec.type',
    },
    {
      name: 'two changed fields',
      config: service({ type: 'NodePort', ports: [{ port: 80, targetPort: 8080 }] }),
      message: 'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using v1:\n- .spec.ports[port=80,protocol="TCP"].targetPort\n- .spec.type',
    },
  ])('refuses $name with the real message', ({ config, message }) => {
    const result = applyConfig(ctx('Service'), live, config, managers, 'kubectl', false);
    expect(result.kind).toBe('conflicts');
    if (result.kind === 'conflicts') expect(conflictMessage(result.conflicts)).toBe(message);
  });

  it('shares a field applied with the value it already has', () => {
    const result = applyConfig(ctx('Service'), live, service({ type: 'ClusterIP' }), managers, 'kubectl', false);
    expect(result.kind).toBe('applied');
    if (result.kind !== 'applied') return;
    expect(result.managedFields.map((e) => e.manager)).toEqual(['kubectl-client-side-apply', 'kubectl']);
    expect(result.managedFields[0]?.fieldsV1).toMatchObject({ 'f:spec': { 'f:type': {} } });
  });

  it('with force takes the field: the value changes and the other manager loses it', () => {
    const result = applyConfig(ctx('Service'), live, service({ type: 'LoadBalancer' }), managers, 'kubectl', true);
    expect(result.kind).toBe('applied');
    if (result.kind !== 'applied') return;
    expect((result.object.spec as JsonObject).type).toBe('LoadBalancer');
    const [other, mine] = result.managedFields;
    expect(other?.fieldsV1).not.toHaveProperty(['f:spec', 'f:type']);
    expect(mine).toMatchObject({ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:type': {} } } });
  });

  it('removes a field left out of the next apply unless someone else owns it', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' }, data: { a: '1', b: '2' } };
    const first = applyConfig(ctx('ConfigMap'), undefined, cm, [], 'x', false);
    if (first.kind !== 'applied') throw new Error('first apply refused');
    const byY = applyConfig(ctx('ConfigMap'), first.object, { ...cm, data: { b: '2' } }, decodeManagedFields(withManaged(first.object, first.managedFields)), 'y', false);
    if (byY.kind !== 'applied') throw new Error('second apply refused');
    const again = applyConfig(ctx('ConfigMap'), byY.object, { ...cm, data: {} }, decodeManagedFields(withManaged(byY.object, byY.managedFields)), 'x', false);
    expect(again.kind === 'applied' ? again.object.data : undefined).toEqual({ b: '2' });
  });

  it('keeps the time of an entry when an apply a minute later changes nothing', () => {
    const config = service({ type: 'LoadBalancer' });
    const first = applyConfig(ctx('Service'), undefined, config, [], 'kubectl', false);
    if (first.kind !== 'applied') throw new Error('refused');
    const later = { ...ctx('Service'), now: new Date('2026-12-04T12:01:00Z') };
    const second = applyConfig(later, first.object, config, decodeManagedFields(withManaged(first.object, first.managedFields)), 'kubectl', false);
    expect(second.kind === 'applied' ? second.managedFields : undefined).toEqual(first.managedFields);
  });

  it('is idempotent: the same config twice changes nothing', () => {
    const config = service({ type: 'LoadBalancer', ports: [{ port: 80 }] });
    const first = applyConfig(ctx('Service'), undefined, config, [], 'kubectl', false);
    if (first.kind !== 'applied') throw new Error('refused');
    const second = applyConfig(ctx('Service'), first.object, config, decodeManagedFields(withManaged(first.object, first.managedFields)), 'kubectl', false);
    expect(second).toEqual(first);
  });
});
