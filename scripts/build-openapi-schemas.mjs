// Writes src/sandbox/apiserver/generated/openapi-schemas.json (git-ignored, part of `npm run
// build`): the OpenAPI v2 definitions of the kinds the sandbox API server serves and of every type
// they reach, named as Kubernetes names them (io.k8s.api.core.v1.Service), with descriptions
// (kubectl explain prints them), required fields and the x-kubernetes-* extensions (kubectl and
// server-side apply read them).
//
// Input: the models @kubernetes/client-node generates from Kubernetes' OpenAPI document.
// dist/gen/models/<Model>.js carries each property's type (attributeTypeMap), <Model>.d.ts its
// description (TSDoc) and whether it is optional; the descriptions client-node leaves out (fields
// whose type is another definition, IntOrString fields) come from kubernetes-models' .d.ts. What client-node leaves out is written below as
// tables of Kubernetes API facts: the package of each type, which strings are Quantities, and the
// list, map and patch extensions of the fields that carry them.
//
// A kind joins the sandbox's OpenAPI documents, field validation and server-side apply by being
// listed in `roots` and served in resources.ts; no per-kind code.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const requireHere = createRequire(import.meta.url);
const modelsDir = join(dirname(requireHere.resolve('@kubernetes/client-node')), 'gen', 'models');
const output = new URL('../src/sandbox/apiserver/generated/openapi-schemas.json', import.meta.url);

/** The served kinds: client-node model -> group (version v1 throughout). */
const roots = {
  V1Namespace: '',
  V1Service: '',
  V1ConfigMap: '',
  V1Secret: '',
  V1Endpoints: '',
  V1Node: '',
  CoreV1Event: '',
  V1Pod: '',
  V1EndpointSlice: 'discovery.k8s.io',
  V1Lease: 'coordination.k8s.io',
  EventsV1Event: 'events.k8s.io',
  V1Deployment: 'apps',
  V1ReplicaSet: 'apps',
  V1DaemonSet: 'apps',
  V1ServiceAccount: '',
  V1ClusterRole: 'rbac.authorization.k8s.io',
  V1ClusterRoleBinding: 'rbac.authorization.k8s.io',
  V1Role: 'rbac.authorization.k8s.io',
  V1RoleBinding: 'rbac.authorization.k8s.io',
};

const meta = 'io.k8s.apimachinery.pkg.apis.meta.v1';
/** Types outside core/v1 that client-node names without a group prefix: type -> package. */
const packages = {
  ...inPackage(meta, 'Condition', 'LabelSelector', 'LabelSelectorRequirement', 'ManagedFieldsEntry', 'ObjectMeta', 'OwnerReference'),
  ...inPackage('io.k8s.api.apps.v1', 'DaemonSet', 'DaemonSetCondition', 'DaemonSetSpec', 'DaemonSetStatus', 'DaemonSetUpdateStrategy',
    'Deployment', 'DeploymentCondition', 'DeploymentSpec', 'DeploymentStatus', 'DeploymentStrategy', 'ReplicaSet', 'ReplicaSetCondition',
    'ReplicaSetSpec', 'ReplicaSetStatus', 'RollingUpdateDaemonSet', 'RollingUpdateDeployment'),
  ...inPackage('io.k8s.api.coordination.v1', 'Lease', 'LeaseSpec'),
  ...inPackage('io.k8s.api.discovery.v1', 'Endpoint', 'EndpointConditions', 'EndpointHints', 'EndpointSlice', 'ForNode', 'ForZone'),
  ...inPackage('io.k8s.api.rbac.v1', 'AggregationRule', 'ClusterRole', 'ClusterRoleBinding', 'PolicyRule', 'Role', 'RoleBinding', 'RoleRef'),
};
/** client-node's group prefixes (CoreV1Event, DiscoveryV1EndpointPort) -> package. */
const prefixes = { Core: 'io.k8s.api.core.v1', Discovery: 'io.k8s.api.discovery.v1', Events: 'io.k8s.api.events.v1', Rbac: 'io.k8s.api.rbac.v1' };

/** The scalar types client-node turns into plain strings, dates or `any`. */
const scalars = {
  'io.k8s.apimachinery.pkg.api.resource.Quantity': {
    description: 'Quantity is a fixed-point representation of a number, serialized as a string such as "100m", "1.5Gi" or "2e3".',
    type: 'string',
  },
  [`${meta}.FieldsV1`]: { description: 'FieldsV1 stores a set of fields in a data structure like a Trie, in JSON format.', type: 'object' },
  [`${meta}.MicroTime`]: { description: 'MicroTime is a version of Time with microsecond precision.', format: 'date-time', type: 'string' },
  [`${meta}.Time`]: { description: 'Time is a timestamp serialized in RFC 3339 form, with second precision.', format: 'date-time', type: 'string' },
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': {
    description: 'IntOrString is a type that can hold an int32 or a string; it serializes as the one it holds.',
    format: 'int-or-string',
    type: 'string',
  },
};
const quantity = '#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity';
/** Fields whose strings (or map values) are Quantities: short definition name -> fields. */
const quantities = {
  'core.v1.ContainerStatus': ['allocatedResources'],
  'core.v1.EmptyDirVolumeSource': ['sizeLimit'],
  'core.v1.NodeStatus': ['allocatable', 'capacity'],
  'core.v1.PodSpec': ['overhead'],
  'core.v1.ResourceFieldSelector': ['divisor'],
  'core.v1.ResourceRequirements': ['limits', 'requests'],
  'core.v1.VolumeResourceRequirements': ['limits', 'requests'],
};
/** Fields of type `any` that refer to a definition: short definition name -> field -> definition. */
const anyRefs = { 'meta.v1.ManagedFieldsEntry': { fieldsV1: `${meta}.FieldsV1` } };

const atomic = { 'x-kubernetes-list-type': 'atomic' };
const set = { 'x-kubernetes-list-type': 'set' };
const atomicMap = { 'x-kubernetes-map-type': 'atomic' };
/** A strategic-merge-patch strategy, and the key that list items merge by. */
const patch = (strategy, key) => ({ ...(key === undefined ? {} : { 'x-kubernetes-patch-merge-key': key }), 'x-kubernetes-patch-strategy': strategy });
/** A list of objects keyed by `keys`; strategic merge patch merges it by the first key when `strategy` is given. */
const listMap = (keys, strategy) => ({
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': keys,
  ...(strategy === undefined ? {} : patch(strategy, keys[0])),
});

/** Extensions of fields, as Kubernetes declares them: short definition name -> field -> extensions. */
const fieldExtensions = {
  'apps.v1.DaemonSetStatus': { conditions: listMap(['type'], 'merge') },
  'apps.v1.DeploymentSpec': { strategy: patch('retainKeys') },
  'apps.v1.DeploymentStatus': { conditions: listMap(['type'], 'merge') },
  'apps.v1.ReplicaSetStatus': { conditions: listMap(['type'], 'merge') },
  'core.v1.Capabilities': { add: atomic, drop: atomic },
  'core.v1.CephFSVolumeSource': { monitors: atomic },
  'core.v1.ConfigMapProjection': { items: atomic },
  'core.v1.ConfigMapVolumeSource': { items: atomic },
  'core.v1.Container': { args: atomic, command: atomic, env: listMap(['name'], 'merge'), envFrom: atomic, ports: listMap(['containerPort','protocol'], 'merge'), resizePolicy: atomic, restartPolicyRules: atomic, volumeDevices: listMap(['devicePath'], 'merge'), volumeMounts: listMap(['mountPath'], 'merge') },
  'core.v1.ContainerImage': { names: atomic },
  'core.v1.ContainerRestartRuleOnExitCodes': { values: set },
  'core.v1.ContainerStatus': { allocatedResourcesStatus: listMap(['name'], 'merge'), volumeMounts: listMap(['mountPath'], 'merge') },
  'core.v1.DownwardAPIProjection': { items: atomic },
  'core.v1.DownwardAPIVolumeSource': { items: atomic },
  'core.v1.Endpoints': { subsets: atomic },
  'core.v1.EndpointSubset': { addresses: atomic, notReadyAddresses: atomic, ports: atomic },
  'core.v1.EphemeralContainer': { args: atomic, command: atomic, env: listMap(['name'], 'merge'), envFrom: atomic, ports: listMap(['containerPort','protocol'], 'merge'), resizePolicy: atomic, restartPolicyRules: atomic, volumeDevices: listMap(['devicePath'], 'merge'), volumeMounts: listMap(['mountPath'], 'merge') },
  'core.v1.ExecAction': { command: atomic },
  'core.v1.FCVolumeSource': { targetWWNs: atomic, wwids: atomic },
  'core.v1.HostAlias': { hostnames: atomic },
  'core.v1.HTTPGetAction': { httpHeaders: atomic },
  'core.v1.ISCSIVolumeSource': { portals: atomic },
  'core.v1.LinuxContainerUser': { supplementalGroups: atomic },
  'core.v1.LoadBalancerIngress': { ports: atomic },
  'core.v1.LoadBalancerStatus': { ingress: atomic },
  'core.v1.NamespaceSpec': { finalizers: atomic },
  'core.v1.NamespaceStatus': { conditions: listMap(['type'], 'merge') },
  'core.v1.NodeAffinity': { preferredDuringSchedulingIgnoredDuringExecution: atomic },
  'core.v1.NodeSelector': { nodeSelectorTerms: atomic },
  'core.v1.NodeSelectorRequirement': { values: atomic },
  'core.v1.NodeSelectorTerm': { matchExpressions: atomic, matchFields: atomic },
  'core.v1.NodeSpec': { podCIDRs: { ...set, ...patch('merge') }, taints: atomic },
  'core.v1.NodeStatus': { addresses: listMap(['type'], 'merge'), conditions: listMap(['type'], 'merge'), images: atomic, runtimeHandlers: atomic, volumesAttached: atomic, volumesInUse: atomic },
  'core.v1.PersistentVolumeClaimSpec': { accessModes: atomic },
  'core.v1.PodAffinity': { preferredDuringSchedulingIgnoredDuringExecution: atomic, requiredDuringSchedulingIgnoredDuringExecution: atomic },
  'core.v1.PodAffinityTerm': { matchLabelKeys: atomic, mismatchLabelKeys: atomic, namespaces: atomic },
  'core.v1.PodAntiAffinity': { preferredDuringSchedulingIgnoredDuringExecution: atomic, requiredDuringSchedulingIgnoredDuringExecution: atomic },
  'core.v1.PodDNSConfig': { nameservers: atomic, options: atomic, searches: atomic },
  'core.v1.PodExtendedResourceClaimStatus': { requestMappings: atomic },
  'core.v1.PodSecurityContext': { supplementalGroups: atomic, sysctls: atomic },
  'core.v1.PodSpec': { containers: listMap(['name'], 'merge'), ephemeralContainers: listMap(['name'], 'merge'), hostAliases: listMap(['ip'], 'merge'), imagePullSecrets: listMap(['name'], 'merge'), initContainers: listMap(['name'], 'merge'), nodeSelector: atomicMap, readinessGates: atomic, resourceClaims: listMap(['name'], 'merge,retainKeys'), schedulingGates: listMap(['name'], 'merge'), tolerations: atomic, topologySpreadConstraints: listMap(['topologyKey','whenUnsatisfiable'], 'merge'), volumes: listMap(['name'], 'merge,retainKeys') },
  'core.v1.PodStatus': { conditions: listMap(['type'], 'merge'), containerStatuses: atomic, ephemeralContainerStatuses: atomic, hostIPs: { ...atomic, ...patch('merge', 'ip') }, initContainerStatuses: atomic, podIPs: listMap(['ip'], 'merge'), resourceClaimStatuses: listMap(['name'], 'merge,retainKeys') },
  'core.v1.ProjectedVolumeSource': { sources: atomic },
  'core.v1.RBDVolumeSource': { monitors: atomic },
  'core.v1.ResourceRequirements': { claims: listMap(['name']) },
  'core.v1.ResourceStatus': { resources: listMap(['resourceID']) },
  'core.v1.SecretProjection': { items: atomic },
  'core.v1.SecretVolumeSource': { items: atomic },
  'core.v1.ServiceAccount': { imagePullSecrets: atomic, secrets: patch('merge', 'name') },
  'core.v1.ServiceSpec': { clusterIPs: atomic, externalIPs: atomic, ipFamilies: atomic, loadBalancerSourceRanges: atomic, ports: listMap(['port','protocol'], 'merge'), selector: atomicMap },
  'core.v1.ServiceStatus': { conditions: listMap(['type'], 'merge') },
  'core.v1.TopologySpreadConstraint': { matchLabelKeys: atomic },
  'discovery.v1.Endpoint': { addresses: set },
  'discovery.v1.EndpointHints': { forNodes: atomic, forZones: atomic },
  'discovery.v1.EndpointSlice': { endpoints: atomic, ports: atomic },
  'meta.v1.LabelSelector': { matchExpressions: atomic },
  'rbac.v1.AggregationRule': { clusterRoleSelectors: atomic },
  'rbac.v1.ClusterRole': { rules: atomic },
  'rbac.v1.ClusterRoleBinding': { subjects: atomic },
  'rbac.v1.PolicyRule': { apiGroups: atomic, nonResourceURLs: atomic, resourceNames: atomic, resources: atomic, verbs: atomic },
  'rbac.v1.Role': { rules: atomic },
  'rbac.v1.RoleBinding': { subjects: atomic },
  'meta.v1.LabelSelectorRequirement': { values: atomic },
  'meta.v1.ObjectMeta': { finalizers: { ...set, ...patch('merge') }, managedFields: atomic, ownerReferences: listMap(['uid'], 'merge') },
};

/** Extensions of whole definitions: short definition name -> extensions. */
const definitionExtensions = {
  'core.v1.ConfigMapKeySelector': atomicMap,
  'core.v1.EndpointAddress': atomicMap,
  'core.v1.EndpointPort': atomicMap,
  'core.v1.FileKeySelector': atomicMap,
  'core.v1.LocalObjectReference': atomicMap,
  'core.v1.NodeSelector': atomicMap,
  'core.v1.NodeSelectorTerm': atomicMap,
  'core.v1.ObjectFieldSelector': atomicMap,
  'core.v1.ObjectReference': atomicMap,
  'core.v1.ResourceFieldSelector': atomicMap,
  'core.v1.SecretKeySelector': atomicMap,
  'core.v1.TypedLocalObjectReference': atomicMap,
  'discovery.v1.EndpointPort': atomicMap,
  'meta.v1.LabelSelector': atomicMap,
  'meta.v1.OwnerReference': atomicMap,
  'rbac.v1.RoleRef': atomicMap,
  'rbac.v1.Subject': atomicMap,
  'core.v1.AppArmorProfile': {'x-kubernetes-unions':[{'discriminator': 'type','fields-to-discriminateBy': {'localhostProfile': 'LocalhostProfile'}}]},
  'core.v1.SeccompProfile': {'x-kubernetes-unions':[{'discriminator': 'type','fields-to-discriminateBy': {'localhostProfile': 'LocalhostProfile'}}]},
};

function inPackage(pkg, ...types) {
  return Object.fromEntries(types.map((t) => [t, pkg]));
}

function short(name) {
  return name.replace('io.k8s.api.', '').replace('io.k8s.apimachinery.pkg.apis.', '');
}

/** The definition name of a client-node model: V1ServiceSpec -> io.k8s.api.core.v1.ServiceSpec. */
function definitionName(model) {
  const m = /^([A-Z][a-z]+)?V1([A-Z]\w*)$/.exec(model);
  if (m === null) throw new Error(`${model}: not a v1 model`);
  const [, prefix, type] = m;
  const pkg = prefix === undefined ? (packages[type] ?? 'io.k8s.api.core.v1') : prefixes[prefix];
  if (pkg === undefined) throw new Error(`${model}: unknown group prefix ${prefix}`);
  return `${pkg}.${type}`;
}

/** Descriptions of a model and its properties, and which properties are optional, from its .d.ts. */
function readDocs(model) {
  const text = readFileSync(join(modelsDir, `${model}.d.ts`), 'utf8');
  const comments = [...text.matchAll(/\/\*\*\n((?:\s*\*.*\n)*?)\s*\*\/\n\s*(export declare class|'(\w+)'(\??):)/g)];
  const docs = { description: undefined, properties: {}, optional: new Set() };
  for (const [, body, what, prop] of comments) {
    const description = unescape(body.split('\n').map((l) => l.replace(/^\s*\*\s?/, '')).join('\n').trim());
    if (what === 'export declare class') docs.description = description;
    else docs.properties[prop] = description;
  }
  for (const [, prop, optional] of text.matchAll(/^\s*'(\w+)'(\??):/gm)) if (optional === '?') docs.optional.add(prop);
  return docs;
}

/**
 * kubernetes-models (a dev dependency, installed whenever `npm ci` builds) documents every field
 * in its .d.ts, also those whose type is another definition (`spec`, `metadata`, `template`) or
 * an IntOrString, which client-node leaves undocumented or documents with its type's text:
 * property -> description of one definition, {} when the package has no such file.
 */
const modelsGroups = { apps: 'apps', autoscaling: 'autoscaling', coordination: 'coordination.k8s.io', core: 'v1', discovery: 'discovery.k8s.io', events: 'events.k8s.io' };
function modelsDocs(name) {
  const api = /^io\.k8s\.api\.(\w+)\.v1\.(\w+)$/.exec(name);
  const metaType = /^io\.k8s\.apimachinery\.pkg\.apis\.meta\.v1\.(\w+)$/.exec(name);
  // The packages' exports hide their .d.ts files from resolution: read them next to package.json.
  const file = api !== null && modelsGroups[api[1]] !== undefined
    ? ['kubernetes-models', `${modelsGroups[api[1]]}${api[1] === 'core' ? '' : '/v1'}/${api[2]}.d.ts`]
    : metaType !== null ? ['@kubernetes-models/apimachinery', `apis/meta/v1/${metaType[1]}.d.ts`] : undefined;
  let text;
  try {
    text = file === undefined ? '' : readFileSync(join(dirname(requireHere.resolve(`${file[0]}/package.json`)), file[1]), 'utf8');
  } catch {
    return {};
  }
  const docs = {};
  for (const [, body, prop] of text.matchAll(/\/\*\*\n((?:\s*\*.*\n)*?)\s*\*\/\n\s*"(\w+)"\??:/g)) {
    docs[prop] ??= body.split('\n').map((l) => l.replace(/^\s*\*\s?/, '')).join('\n').trim();
  }
  return docs;
}

/** client-node's TSDoc escapes quotes and backslashes as its TypeScript generator writes them. */
function unescape(text) {
  return text.replace(/\\(["'\\])/g, '$1');
}

async function readModel(model) {
  const module = await import(pathToFileURL(join(modelsDir, `${model}.js`)).href);
  return module[model].attributeTypeMap;
}

/** The schema of one attribute type; `onModel` collects the models it refers to. */
function schemaOf(type, format, leaf, onModel) {
  const array = /^Array<(.+)>$/.exec(type);
  if (array !== null) return { items: schemaOf(array[1], format, leaf, onModel), type: 'array' };
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map !== null) return { additionalProperties: schemaOf(map[1], format, leaf, onModel), type: 'object' };
  if (leaf !== undefined) return { $ref: leaf };
  switch (type) {
    case 'string': return withFormat('string', format);
    case 'boolean': return { type: 'boolean' };
    case 'number': return withFormat(format === 'double' || format === 'float' ? 'number' : 'integer', format);
    case 'Date': return { $ref: `#/definitions/${meta}.Time` };
    case 'V1MicroTime': return { $ref: `#/definitions/${meta}.MicroTime` };
    case 'IntOrString': return { $ref: '#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString' };
    case 'any': return {};
    default:
      onModel(type);
      return { $ref: `#/definitions/${definitionName(type)}` };
  }
}

function withFormat(type, format) {
  return format === '' ? { type } : { format, type };
}

async function definitionOf(model, onModel) {
  const name = definitionName(model);
  const docs = readDocs(model);
  const fieldDocs = modelsDocs(name);
  const key = short(name);
  const properties = {};
  for (const { name: prop, type, format } of await readModel(model)) {
    const leaf = quantities[key]?.includes(prop) ? quantity : anyRefs[key]?.[prop] === undefined ? undefined : `#/definitions/${anyRefs[key][prop]}`;
    // client-node documents an IntOrString or MicroTime field with its type's text, not the
    // field's, and a field whose type is another definition not at all: kubernetes-models has them.
    const own = type === 'IntOrString' || type === 'V1MicroTime' ? undefined : docs.properties[prop];
    const description = own ?? fieldDocs[prop];
    properties[prop] = {
      ...(description === undefined ? {} : { description }),
      ...schemaOf(type, format, leaf, onModel),
      ...fieldExtensions[key]?.[prop],
    };
  }
  const required = Object.keys(properties).filter((p) => !docs.optional.has(p));
  return {
    ...(docs.description === undefined ? {} : { description: docs.description }),
    properties,
    ...(required.length === 0 ? {} : { required }),
    type: 'object',
    ...definitionExtensions[key],
  };
}

const definitions = new Map(Object.entries(scalars));
const pending = Object.keys(roots);
const queued = new Set(pending);
while (pending.length > 0) {
  const model = pending.shift();
  const def = await definitionOf(model, (m) => {
    if (queued.has(m)) return;
    queued.add(m);
    pending.push(m);
  });
  const group = roots[model];
  if (group !== undefined) def['x-kubernetes-group-version-kind'] = [{ group, kind: definitionName(model).split('.').at(-1), version: 'v1' }];
  definitions.set(definitionName(model), def);
}

// Kubernetes' v3 documents carry `default: "TCP"` on the protocol of ports, which are keys of
// list-maps (spec.ports by port and protocol); its v2 swagger.json does not. Server-side apply needs
// the default to name an applied port whose protocol was left out, as the real server does.
for (const def of definitions.values()) {
  for (const prop of Object.values(def.properties ?? {})) {
    const item = prop.items?.$ref === undefined ? undefined : definitions.get(prop.items.$ref.replace('#/definitions/', ''));
    if (prop['x-kubernetes-list-map-keys']?.includes('protocol') && item?.properties?.protocol !== undefined) item.properties.protocol.default = 'TCP';
  }
}

// A table entry for a field client-node does not have is a typo, or a fact of another Kubernetes
// version: say so rather than drop it silently.
for (const [table, entries] of Object.entries({ fieldExtensions, quantities, anyRefs })) {
  for (const [key, fields] of Object.entries(entries)) {
    const def = definitions.get(key.startsWith('meta.') ? `io.k8s.apimachinery.pkg.apis.${key}` : `io.k8s.api.${key}`);
    for (const field of Array.isArray(fields) ? fields : Object.keys(fields)) {
      if (def?.properties[field] === undefined) throw new Error(`build-openapi-schemas: ${table}: no field ${key}.${field}`);
    }
  }
}
for (const key of Object.keys(definitionExtensions)) {
  if (!definitions.has(key.startsWith('meta.') ? `io.k8s.apimachinery.pkg.apis.${key}` : `io.k8s.api.${key}`)) throw new Error(`build-openapi-schemas: no definition ${key}`);
}

const out = Object.fromEntries([...definitions].sort(([a], [b]) => a.localeCompare(b)));
mkdirSync(new URL('.', output), { recursive: true });
writeFileSync(output, `${JSON.stringify(out)}\n`);
console.log(`build-openapi-schemas: ${String(definitions.size)} definitions`);
