import { describe, expect, it } from 'vitest';
import { parseApiPath } from '../../src/sandbox/apiserver/request-path.js';
import { resourceDefs } from '../../src/sandbox/apiserver/resources.js';

function describePath(path: string): string {
  const r = parseApiPath(path, resourceDefs);
  if (r.kind === 'unknown') return 'unknown';
  if (r.kind === 'discovery') return `discovery ${r.doc} ${r.group} ${r.version}`.trim();
  const t = r.target;
  return `${t.def.group === '' ? 'core' : t.def.group} ${t.def.plural} ns=${t.namespace} name=${t.name} sub=${t.subresource}${t.watchPrefix ? ' watch' : ''}`;
}

describe('parseApiPath', () => {
  it.each([
    { name: 'version', path: '/version', want: 'discovery version' },
    { name: 'core versions', path: '/api', want: 'discovery api' },
    { name: 'core resources', path: '/api/v1', want: 'discovery core  v1' },
    { name: 'groups', path: '/apis', want: 'discovery apis' },
    { name: 'one group', path: '/apis/coordination.k8s.io', want: 'discovery group coordination.k8s.io' },
    { name: 'group version', path: '/apis/discovery.k8s.io/v1', want: 'discovery groupVersion discovery.k8s.io v1' },
    { name: 'unknown group', path: '/apis/batch/v1', want: 'unknown' },
    { name: 'all services', path: '/api/v1/services', want: 'core services ns= name= sub=' },
    { name: 'namespaced services', path: '/api/v1/namespaces/default/services', want: 'core services ns=default name= sub=' },
    { name: 'one service', path: '/api/v1/namespaces/default/services/web', want: 'core services ns=default name=web sub=' },
    { name: 'service status', path: '/api/v1/namespaces/default/services/web/status', want: 'core services ns=default name=web sub=status' },
    { name: 'configmaps have no status', path: '/api/v1/namespaces/default/configmaps/c/status', want: 'unknown' },
    { name: 'namespaces', path: '/api/v1/namespaces', want: 'core namespaces ns= name= sub=' },
    { name: 'one namespace', path: '/api/v1/namespaces/ironlb-system', want: 'core namespaces ns= name=ironlb-system sub=' },
    { name: 'namespace status', path: '/api/v1/namespaces/ironlb-system/status', want: 'core namespaces ns= name=ironlb-system sub=status' },
    { name: 'nodes are cluster-scoped', path: '/api/v1/nodes/n1/status', want: 'core nodes ns= name=n1 sub=status' },
    { name: 'leases', path: '/apis/coordination.k8s.io/v1/namespaces/ironlb-system/leases/ironlb-controller', want: 'coordination.k8s.io leases ns=ironlb-system name=ironlb-controller sub=' },
    { name: 'legacy watch prefix', path: '/api/v1/watch/namespaces/default/services', want: 'core services ns=default name= sub= watch' },
    { name: 'too deep', path: '/api/v1/namespaces/default/services/web/status/x', want: 'unknown' },
    { name: 'not the API', path: '/metrics', want: 'unknown' },
  ])('$name', ({ path, want }) => {
    expect(describePath(path)).toBe(want);
  });
});
