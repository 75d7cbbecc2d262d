import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RequestAttributes, RequestVerb } from '../../src/sandbox/apiserver/admission.js';
import { authorizerFromManifests } from '../../src/sandbox/apiserver/rbac.js';
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
