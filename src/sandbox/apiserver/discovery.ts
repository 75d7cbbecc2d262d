import { apiVersionOf, type ResourceDef } from './resources.js';
import type { JsonObject } from './object.js';

/** The Kubernetes version this server claims; kubectl only warns when it is far from its own. */
export const serverVersion = { major: '1', minor: '32', gitVersion: 'v1.32.0-ironlb-sandbox', platform: 'linux/amd64' };

/** The verbs every resource supports here (read-only ones only the first three). */
const readVerbs = ['get', 'list', 'watch'];
const writeVerbs = ['create', 'delete', 'deletecollection', 'patch', 'update'];

function groupsOf(defs: readonly ResourceDef[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const d of defs) {
    if (d.group === '') continue;
    const versions = groups.get(d.group) ?? [];
    if (!versions.includes(d.version)) versions.push(d.version);
    groups.set(d.group, versions);
  }
  return groups;
}

function groupDoc(group: string, versions: readonly string[]): JsonObject {
  const list = versions.map((version) => ({ groupVersion: `${group}/${version}`, version }));
  return { name: group, versions: list, preferredVersion: list[0] };
}

/** `GET /version`, `/api`, `/apis`, `/apis/<group>`, `/api/v1` and `/apis/<group>/<version>` bodies. */
export function discoveryDoc(doc: 'version' | 'api' | 'apis' | 'core' | 'group' | 'groupVersion', group: string, version: string, defs: readonly ResourceDef[]): JsonObject {
  switch (doc) {
    case 'version':
      return { ...serverVersion, goVersion: 'go1.23', compiler: 'gc', buildDate: '2026-01-01T00:00:00Z', gitCommit: '', gitTreeState: 'clean' };
    case 'api':
      return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '' }] };
    case 'apis':
      return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groupsOf(defs)].map(([g, vs]) => groupDoc(g, vs)) };
    case 'group':
      return { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(group, groupsOf(defs).get(group) ?? []) };
    case 'core':
    case 'groupVersion':
      return resourceList(group, version, defs);
  }
}

function resourceList(group: string, version: string, defs: readonly ResourceDef[]): JsonObject {
  const resources: JsonObject[] = [];
  for (const d of defs.filter((x) => x.group === group && x.version === version)) {
    resources.push({
      name: d.plural,
      singularName: d.singular,
      namespaced: d.namespaced,
      kind: d.kind,
      verbs: d.readOnly ? readVerbs : [...readVerbs, ...writeVerbs],
      ...(d.shortNames.length > 0 ? { shortNames: d.shortNames } : {}),
      ...(d.categories.length > 0 ? { categories: d.categories } : {}),
    });
    if (d.hasStatus) resources.push({ name: `${d.plural}/status`, singularName: '', namespaced: d.namespaced, kind: d.kind, verbs: ['get', 'patch', 'update'] });
    for (const sub of d.subresources) resources.push(subresourceEntry(d, sub));
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf({ group, version }), resources };
}

/** Discovery of a subresource: Scale lives in autoscaling/v1, which kubectl scale reads from here. */
function subresourceEntry(d: ResourceDef, sub: ResourceDef['subresources'][number]): JsonObject {
  const base = { name: `${d.plural}/${sub}`, singularName: '', namespaced: d.namespaced };
  if (sub === 'scale') return { ...base, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] };
  if (sub === 'log') return { ...base, kind: 'Pod', verbs: ['get'] };
  if (sub === 'token') return { ...base, group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest', verbs: ['create'] };
  return { ...base, kind: 'Binding', verbs: ['create'] };
}
