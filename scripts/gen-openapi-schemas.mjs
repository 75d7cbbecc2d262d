// Writes src/sandbox/apiserver/openapi-schemas.json: the OpenAPI v2 definitions of the kinds the
// sandbox API server serves, and every definition they reach through $ref, with descriptions
// (kubectl explain prints them) and the x-kubernetes-* extensions (kubectl and server-side apply
// read them). Input: Kubernetes' own swagger.json (api/openapi-spec/swagger.json of
// kubernetes/kubernetes, or the unprocessed copy the client libraries generate from).
//
//   node scripts/gen-openapi-schemas.mjs path/to/swagger.json
//
// A kind joins the sandbox's OpenAPI documents, field validation and server-side apply by being
// listed here and served in resources.ts; no per-kind code.
import { readFileSync, writeFileSync } from 'node:fs';

const roots = [
  'io.k8s.api.core.v1.Namespace',
  'io.k8s.api.core.v1.Service',
  'io.k8s.api.core.v1.ConfigMap',
  'io.k8s.api.core.v1.Secret',
  'io.k8s.api.core.v1.Endpoints',
  'io.k8s.api.core.v1.Node',
  'io.k8s.api.core.v1.Event',
  'io.k8s.api.core.v1.Pod',
  'io.k8s.api.discovery.v1.EndpointSlice',
  'io.k8s.api.coordination.v1.Lease',
  'io.k8s.api.events.v1.Event',
  'io.k8s.api.apps.v1.Deployment',
  'io.k8s.api.apps.v1.ReplicaSet',
  'io.k8s.api.apps.v1.DaemonSet',
];

const [input] = process.argv.slice(2);
if (input === undefined) {
  console.error('usage: node scripts/gen-openapi-schemas.mjs SWAGGER_JSON');
  process.exit(2);
}
const { definitions } = JSON.parse(readFileSync(input, 'utf8'));
const picked = new Map();

function visit(value) {
  if (Array.isArray(value)) value.forEach(visit);
  else if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === '$ref' && typeof v === 'string') add(v.replace('#/definitions/', ''));
      else visit(v);
    }
  }
}

function add(name) {
  if (picked.has(name)) return;
  const def = definitions[name];
  if (def === undefined) throw new Error(`${input}: no definition ${name}`);
  picked.set(name, def);
  visit(def);
}

roots.forEach(add);

// Kubernetes' v3 documents carry `default: "TCP"` on the protocol of ports, which are keys of
// list-maps (spec.ports by port and protocol); its v2 swagger.json does not. Server-side apply needs
// the default to name an applied port whose protocol was left out, as the real server does.
for (const def of picked.values()) {
  for (const prop of Object.values(def.properties ?? {})) {
    const keys = prop['x-kubernetes-list-map-keys'] ?? [];
    const item = prop.items?.$ref === undefined ? undefined : picked.get(prop.items.$ref.replace('#/definitions/', ''));
    if (keys.includes('protocol') && item?.properties?.protocol !== undefined) item.properties.protocol.default = 'TCP';
  }
}
const out = Object.fromEntries([...picked].sort(([a], [b]) => a.localeCompare(b)));
writeFileSync(new URL('../src/sandbox/apiserver/openapi-schemas.json', import.meta.url), `${JSON.stringify(out)}\n`);
console.log(`${String(picked.size)} definitions`);
