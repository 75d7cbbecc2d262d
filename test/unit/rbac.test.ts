import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RequestAttributes, RequestVerb } from '../../src/sandbox/apiserver/admission.js';
import { authorizerFromManifests, parseRbac } from '../../src/sandbox/apiserver/rbac.js';
import { repoRoot } from '../helpers/cli.js';

const manifests = readFileSync(join(repoRoot, 'manifests', 'ironlb.yaml'), 'utf8');
const allowed = authorizerFromManifests(manifests);
const controller = 'system:serviceaccount:ironlb-system:controller';
const speaker = 'system:serviceaccount:ironlb-system:speaker';

function attrs(user: string, verb: RequestVerb, resource: string, namespace: string, extra: Partial<RequestAttributes> = {}): RequestAttributes {
  const [res = '', sub = ''] = resource.split('/');
  const group = extra.group ?? (res === 'leases' ? 'coordination.k8s.io' : res === 'endpointslices' ? 'discovery.k8s.io' : '');
  return { user, verb, group, resource: res, subresource: sub, namespace, name: '', ...extra };
}

describe('RBAC of manifests/ironlb.yaml, evaluated like kube-apiserver', () => {
  it.each([
    { name: 'controller watches Services in every namespace', a: attrs(controller, 'watch', 'services', ''), want: true },
    { name: 'controller patches services/status', a: attrs(controller, 'patch', 'services/status', 'default'), want: true },
    { name: 'controller updates services/status', a: attrs(controller, 'update', 'services/status', 'default'), want: true },
    { name: 'controller cannot update a Service spec', a: attrs(controller, 'update', 'services', 'default'), want: false },
    { name: 'controller cannot read Secrets', a: attrs(controller, 'get', 'secrets', 'ironlb-system'), want: false },
    { name: 'controller cannot list Secrets anywhere', a: attrs(controller, 'list', 'secrets', ''), want: false },
    { name: 'controller reads the config ConfigMap', a: attrs(controller, 'get', 'configmaps', 'ironlb-system', { name: 'config' }), want: true },
    { name: 'controller cannot read ConfigMaps of other namespaces', a: attrs(controller, 'list', 'configmaps', 'default'), want: false },
    { name: 'controller takes its leader Lease', a: attrs(controller, 'update', 'leases', 'ironlb-system', { name: 'ironlb-controller' }), want: true },
    { name: 'controller cannot touch Leases elsewhere', a: attrs(controller, 'update', 'leases', 'kube-system'), want: false },
    { name: 'controller creates core Events anywhere', a: attrs(controller, 'create', 'events', 'default'), want: true },
    { name: 'controller creates events.k8s.io Events', a: attrs(controller, 'create', 'events', 'default', { group: 'events.k8s.io' }), want: true },
    { name: 'speaker watches EndpointSlices', a: attrs(speaker, 'watch', 'endpointslices', ''), want: true },
    { name: 'speaker lists Nodes', a: attrs(speaker, 'list', 'nodes', ''), want: true },
    { name: 'speaker cannot update a Service', a: attrs(speaker, 'update', 'services', 'default'), want: false },
    { name: 'speaker cannot write services/status', a: attrs(speaker, 'patch', 'services/status', 'default'), want: false },
    { name: 'speaker updates Leases in ironlb-system', a: attrs(speaker, 'update', 'leases', 'ironlb-system'), want: true },
    { name: 'speaker cannot update Leases in default', a: attrs(speaker, 'update', 'leases', 'default'), want: false },
    { name: 'speaker cannot read Secrets', a: attrs(speaker, 'get', 'secrets', 'ironlb-system'), want: false },
    { name: 'speaker cannot label Nodes', a: attrs(speaker, 'patch', 'nodes', ''), want: false },
    { name: 'an unknown user gets nothing', a: attrs('system:anonymous', 'get', 'services', 'default'), want: false },
    { name: 'another namespace\'s "controller" account gets nothing', a: attrs('system:serviceaccount:default:controller', 'watch', 'services', ''), want: false },
  ])('$name', ({ a, want }) => {
    expect(allowed(a)).toBe(want);
  });
});

describe('RBAC evaluation rules', () => {
  const yaml = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: reader }
rules:
  - { apiGroups: [""], resources: [configmaps], verbs: [get], resourceNames: [only-this] }
  - { apiGroups: ["*"], resources: ["*/status"], verbs: [get] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: reader, namespace: team-a }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader }
subjects: [{ kind: User, name: alice }]
`;
  const allow = authorizerFromManifests(yaml);
  it.each([
    { name: 'a ClusterRole through a RoleBinding grants in that namespace', a: attrs('alice', 'get', 'configmaps', 'team-a', { name: 'only-this' }), want: true },
    { name: '... and nowhere else', a: attrs('alice', 'get', 'configmaps', 'team-b', { name: 'only-this' }), want: false },
    { name: 'resourceNames limit the object', a: attrs('alice', 'get', 'configmaps', 'team-a', { name: 'other' }), want: false },
    { name: 'resourceNames never grant a list', a: attrs('alice', 'list', 'configmaps', 'team-a'), want: false },
    { name: '*/status matches any status subresource', a: attrs('alice', 'get', 'services/status', 'team-a', { name: 'x' }), want: true },
    { name: '*/status does not match the resource itself', a: attrs('alice', 'get', 'services', 'team-a', { name: 'x' }), want: false },
  ])('$name', ({ a, want }) => {
    expect(allow(a)).toBe(want);
  });

  it('refuses a ClusterRoleBinding to a Role, naming it', () => {
    expect(() => authorizerFromManifests('apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: bad}\nroleRef: {kind: Role, name: r}\n')).toThrow(
      'ClusterRoleBinding bad: roleRef.kind Role is not allowed',
    );
  });
});

describe('the sandbox admin bypasses RBAC', () => {
  const withAdmin = authorizerFromManifests(manifests, ['admin']);
  it.each([
    { name: 'admin reads Secrets', a: attrs('admin', 'get', 'secrets', 'kube-system'), want: true },
    { name: 'admin deletes Nodes', a: attrs('admin', 'delete', 'nodes', ''), want: true },
    { name: 'the controller stays limited next to an admin', a: attrs(controller, 'get', 'secrets', 'ironlb-system'), want: false },
    { name: 'a user named like the admin but different gets nothing', a: attrs('admin2', 'get', 'services', 'default'), want: false },
  ])('$name', ({ a, want }) => {
    expect(withAdmin(a)).toBe(want);
  });

  it('without extraAdmins nobody bypasses', () => {
    expect(allowed(attrs('admin', 'get', 'services', 'default'))).toBe(false);
  });
});

/**
 * Every API call the code makes (docs/security.md: RBAC covers every API call the code makes), with the
 * source that makes it. Namespaced calls are checked in ironlb-system and, where the code works
 * across namespaces, in another one.
 */
const calls: readonly { readonly name: string; readonly a: RequestAttributes }[] = [
  { name: 'controller: list+watch Services in all namespaces (k8s/controller-io.ts)', a: attrs(controller, 'list', 'services', '') },
  { name: 'controller: watch Services (k8s/controller-io.ts)', a: attrs(controller, 'watch', 'services', '') },
  { name: 'controller: list the config ConfigMap (k8s/controller-io.ts)', a: attrs(controller, 'list', 'configmaps', 'ironlb-system') },
  { name: 'controller: watch the config ConfigMap (k8s/controller-io.ts)', a: attrs(controller, 'watch', 'configmaps', 'ironlb-system') },
  { name: 'controller: patch services/status (k8s/service-status.ts)', a: attrs(controller, 'patch', 'services/status', 'team-a', { name: 'web' }) },
  { name: 'controller: core Event for a Service (k8s/events.ts)', a: attrs(controller, 'create', 'events', 'team-a') },
  { name: 'controller: read leader Lease (k8s/leader-election.ts)', a: attrs(controller, 'get', 'leases', 'ironlb-system', { name: 'ironlb-controller' }) },
  { name: 'controller: create leader Lease (k8s/leader-election.ts)', a: attrs(controller, 'create', 'leases', 'ironlb-system') },
  { name: 'controller: renew leader Lease (k8s/leader-election.ts)', a: attrs(controller, 'update', 'leases', 'ironlb-system', { name: 'ironlb-controller' }) },
  { name: 'controller: list speaker Leases, for conflicts (k8s/controller-io.ts)', a: attrs(controller, 'list', 'leases', 'ironlb-system') },
  { name: 'controller: watch speaker Leases, for conflicts (k8s/controller-io.ts)', a: attrs(controller, 'watch', 'leases', 'ironlb-system') },
  { name: 'speaker: list Services (k8s/speaker-watch.ts)', a: attrs(speaker, 'list', 'services', '') },
  { name: 'speaker: watch Services (k8s/speaker-watch.ts)', a: attrs(speaker, 'watch', 'services', '') },
  { name: 'speaker: list EndpointSlices (k8s/speaker-watch.ts)', a: attrs(speaker, 'list', 'endpointslices', '') },
  { name: 'speaker: watch EndpointSlices (k8s/speaker-watch.ts)', a: attrs(speaker, 'watch', 'endpointslices', '') },
  { name: 'speaker: list Nodes (k8s/speaker-watch.ts)', a: attrs(speaker, 'list', 'nodes', '') },
  { name: 'speaker: watch Nodes (k8s/speaker-watch.ts)', a: attrs(speaker, 'watch', 'nodes', '') },
  { name: 'speaker: list peer Leases (k8s/speaker-watch.ts)', a: attrs(speaker, 'list', 'leases', 'ironlb-system') },
  { name: 'speaker: watch peer Leases (k8s/speaker-watch.ts)', a: attrs(speaker, 'watch', 'leases', 'ironlb-system') },
  { name: 'speaker: list the config ConfigMap (k8s/speaker-watch.ts)', a: attrs(speaker, 'list', 'configmaps', 'ironlb-system') },
  { name: 'speaker: watch the config ConfigMap (k8s/speaker-watch.ts)', a: attrs(speaker, 'watch', 'configmaps', 'ironlb-system') },
  { name: 'speaker: read own Lease (k8s/node-lease.ts)', a: attrs(speaker, 'get', 'leases', 'ironlb-system', { name: 'ironlb-speaker-node-1' }) },
  { name: 'speaker: create own Lease (k8s/node-lease.ts)', a: attrs(speaker, 'create', 'leases', 'ironlb-system') },
  { name: 'speaker: renew or release own Lease (k8s/node-lease.ts)', a: attrs(speaker, 'update', 'leases', 'ironlb-system', { name: 'ironlb-speaker-node-1' }) },
  { name: 'speaker: core Event for a Service (k8s/events.ts)', a: attrs(speaker, 'create', 'events', 'team-a') },
];

/**
 * Granted although today's code does not call it: `get` on what is watched (kubectl-style reads
 * when debugging a cache), Event `patch` (series aggregation as client-go's recorder does) and
 * events.k8s.io (the newer Events API), as docs/security.md lists them.
 */
const reserved: readonly { readonly group: string; readonly resource: string; readonly verb: string }[] = [
  { group: '', resource: 'services', verb: 'get' },
  { group: '', resource: 'nodes', verb: 'get' },
  { group: 'discovery.k8s.io', resource: 'endpointslices', verb: 'get' },
  { group: '', resource: 'configmaps', verb: 'get' },
  { group: '', resource: 'services/status', verb: 'update' },
  { group: '', resource: 'events', verb: 'patch' },
  { group: 'events.k8s.io', resource: 'events', verb: 'create' },
  { group: 'events.k8s.io', resource: 'events', verb: 'patch' },
];

describe('RBAC covers every API call the code makes, and grants nothing else', () => {
  it.each(calls)('$name', ({ a }) => {
    expect(allowed(a)).toBe(true);
  });

  const { roles, bindings } = parseRbac(manifests);
  const grants = bindings.flatMap((b) =>
    roles
      .filter((r) => r.kind === b.roleKind && r.name === b.roleName)
      .flatMap((r) => r.rules.flatMap((rule) => rule.apiGroups.flatMap((group) => rule.resources.flatMap((resource) => rule.verbs.map((verb) => ({ role: `${r.kind}/${r.name}`, group, resource, verb })))))),
  );
  const used = (g: { group: string; resource: string; verb: string }): boolean =>
    reserved.some((r) => r.group === g.group && r.resource === g.resource && r.verb === g.verb) ||
    calls.some(({ a }) => a.group === g.group && (a.subresource === '' ? a.resource : `${a.resource}/${a.subresource}`) === g.resource && a.verb === g.verb);

  it('no wildcard anywhere', () => {
    expect(grants.filter((g) => [g.group, g.resource, g.verb].some((v) => v.includes('*')))).toEqual([]);
  });

  it.each(grants.map((g) => ({ name: `${g.role}: ${g.verb} ${g.group === '' ? 'core' : g.group}/${g.resource}`, g })))('$name is a call the code makes', ({ g }) => {
    expect(used(g)).toBe(true);
  });

  it('the excess-grant check can fail: secrets get is not a call the code makes', () => {
    expect(used({ group: '', resource: 'secrets', verb: 'get' })).toBe(false);
  });
});
