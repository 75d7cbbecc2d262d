import { describe, expect, it } from 'vitest';
import { dependentsOf, propagationPolicyOf, withoutOwner, type StoredObject } from '../../src/sandbox/apiserver/garbage.js';
import type { JsonObject } from '../../src/sandbox/apiserver/object.js';
import { ApiStatusError } from '../../src/sandbox/apiserver/status.js';

function obj(storage: string, uid: string, owners: readonly string[] = []): StoredObject {
  const metadata: JsonObject = { name: uid, namespace: 'default', uid };
  if (owners.length > 0) metadata.ownerReferences = owners.map((o) => ({ apiVersion: 'apps/v1', kind: 'X', name: o, uid: o }));
  return { storage, obj: { metadata } };
}

const names = (objs: readonly StoredObject[]): string[] => objs.map((o) => (o.obj.metadata as { uid: string }).uid);

describe('garbage collection decisions', () => {
  const deploy = obj('apps/deployments', 'd');
  const all = [deploy, obj('/pods', 'p1', ['rs1']), obj('apps/replicasets', 'rs1', ['d']), obj('/pods', 'p2', ['rs1']), obj('apps/replicasets', 'rs2', ['other']), obj('/pods', 'p3', ['rs2'])];

  it.each([
    { name: 'a Deployment takes its ReplicaSets and their Pods, children first', owner: deploy.obj, want: ['p1', 'p2', 'rs1'] },
    { name: 'a ReplicaSet takes only its Pods', owner: obj('apps/replicasets', 'rs1', ['d']).obj, want: ['p2', 'p1'] },
    { name: 'an object nobody owns takes nothing', owner: obj('/pods', 'p9').obj, want: [] },
  ])('$name', ({ owner, want }) => {
    expect(names(dependentsOf(owner, all))).toEqual(want);
  });

  it('keeps a dependent that still has another owner', () => {
    const shared = [deploy, obj('apps/replicasets', 'keep', ['d', 'other']), obj('apps/deployments', 'other')];
    expect(names(dependentsOf(deploy.obj, shared))).toEqual([]);
  });

  it('drops only the deleted owner from an orphan', () => {
    const orphan = withoutOwner(obj('/pods', 'p', ['a', 'b']).obj, 'a');
    expect((orphan.metadata as { ownerReferences: { uid: string }[] }).ownerReferences.map((r) => r.uid)).toEqual(['b']);
    expect((withoutOwner(obj('/pods', 'p', ['a']).obj, 'a').metadata as JsonObject).ownerReferences).toBeUndefined();
  });

  it.each([
    { name: 'body', body: { propagationPolicy: 'Foreground' }, query: null, want: 'Foreground' },
    { name: 'query', body: undefined, query: 'Orphan', want: 'Orphan' },
    { name: 'orphanDependents', body: { orphanDependents: true }, query: null, want: 'Orphan' },
    { name: 'default', body: {}, query: null, want: 'Background' },
  ])('propagation policy from the $name', ({ body, query, want }) => {
    expect(propagationPolicyOf(body, query)).toBe(want);
  });

  it('refuses an unknown propagation policy', () => {
    expect(() => propagationPolicyOf({ propagationPolicy: 'Later' }, null)).toThrow(ApiStatusError);
  });
});
