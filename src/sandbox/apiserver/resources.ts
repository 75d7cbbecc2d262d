import { child, clone, isObject, removeKey, type JsonObject } from './object.js';

/**
 * One REST resource the server serves: where it lives in the URL space, how it is stored and
 * which subresources it has. Two definitions may share one `storage` (core v1 and
 * events.k8s.io/v1 Events, as on a real cluster); `toWire`/`fromWire` convert between them.
 */
export interface ResourceDef {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  /** Key in the store; resources that share it see the same objects. */
  readonly storage: string;
  readonly hasStatus: boolean;
  /** Serving a resource read-only (Endpoints) refuses writes with 405. */
  readonly readOnly: boolean;
  /** Subresources other than status: `scale` (Deployments, ReplicaSets), `binding` and `log` (Pods), `token` (ServiceAccounts). */
  readonly subresources: readonly ('scale' | 'binding' | 'log' | 'token')[];
  /** Converts a stored object to this version's shape. */
  readonly toWire: (stored: JsonObject) => JsonObject;
  /** Converts a written object of this version to the stored shape. */
  readonly fromWire: (wire: JsonObject) => JsonObject;
  /**
   * The top-level fields toWire renames, `[stored name, name in this version]`: field ownership
   * (managedFields) recorded in one version is converted with them to another.
   */
  readonly fieldRenames: ReadonlyArray<readonly [string, string]>;
}

/** `v1` or `discovery.k8s.io/v1`. */
export function apiVersionOf(def: Pick<ResourceDef, 'group' | 'version'>): string {
  return def.group === '' ? def.version : `${def.group}/${def.version}`;
}

const identity = (o: JsonObject): JsonObject => o;

function def(partial: Pick<ResourceDef, 'group' | 'version' | 'plural' | 'kind' | 'namespaced'> & Partial<ResourceDef>): ResourceDef {
  return {
    singular: partial.kind.toLowerCase(),
    shortNames: [],
    categories: [],
    storage: `${partial.group}/${partial.plural}`,
    hasStatus: false,
    readOnly: false,
    subresources: [],
    toWire: identity,
    fromWire: identity,
    fieldRenames: [],
    ...partial,
  };
}

/** Renames keys of a shallow object per `pairs` ([from, to]); used by the Event conversions. */
function renameKeys(obj: JsonObject, pairs: readonly (readonly [string, string])[]): JsonObject {
  const out = clone(obj);
  for (const [from, to] of pairs) {
    if (from in out) {
      out[to] = out[from];
      removeKey(out, from);
    }
  }
  return out;
}

/** core v1 Event field -> events.k8s.io/v1 Event field (kubernetes/pkg/apis/events/v1 conversion). */
const eventFieldPairs = [
  ['involvedObject', 'regarding'],
  ['message', 'note'],
  ['source', 'deprecatedSource'],
  ['firstTimestamp', 'deprecatedFirstTimestamp'],
  ['lastTimestamp', 'deprecatedLastTimestamp'],
  ['count', 'deprecatedCount'],
  ['reportingComponent', 'reportingController'],
] as const;

function eventToV1Events(stored: JsonObject): JsonObject {
  const out = renameKeys(stored, eventFieldPairs);
  out.apiVersion = 'events.k8s.io/v1';
  return out;
}

function eventFromV1Events(wire: JsonObject): JsonObject {
  const out = renameKeys(wire, eventFieldPairs.map(([a, b]) => [b, a] as const));
  out.apiVersion = 'v1';
  // kubectl describe groups Events by involvedObject; fill the source from the reporter.
  if (!isObject(out.source) && typeof out.reportingComponent === 'string') out.source = { component: out.reportingComponent };
  if (out.count === undefined && isObject(out.series)) out.count = child(out, 'series').count;
  return out;
}

/**
 * A Secret as written: `stringData` is merged into `data` (base64) and dropped, and `type`
 * defaults to `Opaque`, as kube-apiserver's Secret strategy and defaulting do (core/v1 Secret docs).
 */
function secretFromWire(wire: JsonObject): JsonObject {
  const out: JsonObject = { ...wire };
  if (isObject(wire.stringData)) {
    const data: JsonObject = { ...child(wire, 'data') };
    for (const [key, value] of Object.entries(wire.stringData)) data[key] = Buffer.from(String(value)).toString('base64');
    out.data = data;
  }
  delete out.stringData;
  if (typeof out.type !== 'string' || out.type === '') out.type = 'Opaque';
  return out;
}

/** Every resource this server knows, in discovery order. */
export const resourceDefs: readonly ResourceDef[] = [
  def({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, shortNames: ['ns'], hasStatus: true }),
  def({ group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true, shortNames: ['svc'], categories: ['all'], hasStatus: true }),
  def({ group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'] }),
  def({ group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true, fromWire: secretFromWire }),
  def({ group: '', version: 'v1', plural: 'endpoints', singular: 'endpoints', kind: 'Endpoints', namespaced: true, shortNames: ['ep'] }),
  def({ group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, shortNames: ['no'], hasStatus: true }),
  def({ group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, shortNames: ['ev'], storage: 'events' }),
  def({ group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'], subresources: ['token'] }),
  def({ group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, shortNames: ['po'], categories: ['all'], hasStatus: true, subresources: ['binding', 'log'] }),
  def({ group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true, shortNames: ['deploy'], categories: ['all'], hasStatus: true, subresources: ['scale'] }),
  def({ group: 'apps', version: 'v1', plural: 'replicasets', kind: 'ReplicaSet', namespaced: true, shortNames: ['rs'], categories: ['all'], hasStatus: true, subresources: ['scale'] }),
  def({ group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true, shortNames: ['ds'], categories: ['all'], hasStatus: true }),
  def({ group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', kind: 'EndpointSlice', namespaced: true }),
  def({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true }),
  def({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false }),
  def({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false }),
  def({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', kind: 'RoleBinding', namespaced: true }),
  def({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', kind: 'Role', namespaced: true }),
  def({
    group: 'events.k8s.io',
    version: 'v1',
    plural: 'events',
    kind: 'Event',
    namespaced: true,
    shortNames: ['ev'],
    storage: 'events',
    toWire: eventToV1Events,
    fromWire: eventFromV1Events,
    fieldRenames: eventFieldPairs,
  }),
];

/** Looks up a resource by group, version and plural. */
export function findResource(defs: readonly ResourceDef[], group: string, version: string, plural: string): ResourceDef | undefined {
  return defs.find((d) => d.group === group && d.version === version && d.plural === plural);
}
