import { child, isObject, list, str, type JsonObject } from './object.js';
import { apiVersionOf, type ResourceDef } from './resources.js';
import type { TableRenderer } from './server.js';

/** One meta.k8s.io/v1 TableColumnDefinition. */
interface Column {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'date';
  readonly format: '' | 'name';
  readonly description: string;
  readonly priority: number;
}

type Cell = string | number;

/** The columns of one resource and how an object fills them (without NAME and AGE where the printer adds them). */
interface Printer {
  readonly columns: readonly Column[];
  readonly cells: (obj: JsonObject, now: Date) => readonly Cell[];
}

function column(name: string, description: string, type: Column['type'] = 'string', priority = 0): Column {
  return { name, type, format: name === 'Name' ? 'name' : '', description, priority };
}

const nameColumn = column('Name', 'Name must be unique within a namespace. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names');
const ageColumn = column('Age', 'CreationTimestamp is a timestamp representing the server time when this object was created.');

/**
 * kubectl's duration.HumanDuration (k8s.io/apimachinery/pkg/util/duration): `45s`, `3m2s`, `15m`,
 * `5h3m`, `20h`, `2d5h`, `30d`, `2y10d`; precision drops as durations grow.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${String(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return withRemainder(minutes, 'm', seconds % 60, 's');
  if (minutes < 180) return `${String(minutes)}m`;
  return hoursDuration(minutes);
}

function hoursDuration(minutes: number): string {
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return withRemainder(hours, 'h', minutes % 60, 'm');
  if (hours < 48) return `${String(hours)}h`;
  if (hours < 24 * 8) return withRemainder(Math.floor(hours / 24), 'd', hours % 24, 'h');
  if (hours < 24 * 365 * 2) return `${String(Math.floor(hours / 24))}d`;
  if (hours < 24 * 365 * 8) return withRemainder(Math.floor(hours / 24 / 365), 'y', Math.floor(hours / 24) % 365, 'd');
  return `${String(Math.floor(hours / 24 / 365))}y`;
}

function withRemainder(big: number, bigUnit: string, small: number, smallUnit: string): string {
  return small === 0 ? `${String(big)}${bigUnit}` : `${String(big)}${bigUnit}${String(small)}${smallUnit}`;
}

/** The age of a timestamp as kubectl prints it; `<unknown>` when there is none. */
function since(timestamp: string | undefined, now: Date): string {
  const at = timestamp === undefined ? NaN : Date.parse(timestamp);
  return Number.isNaN(at) ? '<unknown>' : humanDuration(now.getTime() - at);
}

function name(obj: JsonObject): string {
  return str(child(obj, 'metadata'), 'name') ?? '';
}

function age(obj: JsonObject, now: Date): string {
  return since(str(child(obj, 'metadata'), 'creationTimestamp'), now);
}

function strings(values: readonly unknown[]): string[] {
  return values.filter((v): v is string => typeof v === 'string' && v !== '');
}

function orNone(values: readonly string[], separator = ','): string {
  return values.length === 0 ? '<none>' : values.join(separator);
}

/** PORT(S): `80/TCP`, `8090:31234/TCP`, comma separated (printers.go makePortString). */
function servicePorts(spec: JsonObject): string {
  const ports = list(spec, 'ports').filter(isObject);
  return orNone(
    ports.map((p) => {
      const protocol = str(p, 'protocol') ?? 'TCP';
      const port = String(p.port);
      return typeof p.nodePort === 'number' ? `${port}:${String(p.nodePort)}/${protocol}` : `${port}/${protocol}`;
    }),
  );
}

/** EXTERNAL-IP as printers.go getServiceExternalIP shows it. */
function serviceExternalIp(obj: JsonObject): string {
  const spec = child(obj, 'spec');
  const externalIps = strings(list(spec, 'externalIPs'));
  switch (str(spec, 'type')) {
    case 'ExternalName':
      return str(spec, 'externalName') ?? '<none>';
    case 'LoadBalancer': {
      const ingress = list(child(child(obj, 'status'), 'loadBalancer'), 'ingress').filter(isObject);
      const lb = [...strings(ingress.map((i) => i.ip ?? i.hostname)), ...externalIps];
      return lb.length === 0 ? '<pending>' : lb.join(',');
    }
    default:
      return orNone(externalIps);
  }
}

function selector(spec: JsonObject): string {
  const entries = Object.entries(child(spec, 'selector')).map(([k, v]) => `${k}=${String(v)}`);
  return orNone(entries.sort());
}

const services: Printer = {
  columns: [
    nameColumn,
    column('Type', 'The type of the service.'),
    column('Cluster-IP', 'The IP address of the service.'),
    column('External-IP', 'The external IP address of the service.'),
    column('Port(s)', 'The ports on which the service is exposed.'),
    ageColumn,
    column('Selector', 'Route service traffic to pods with label keys and values matching this selector.', 'string', 1),
  ],
  cells(obj, now) {
    const spec = child(obj, 'spec');
    const clusterIp = strings(list(spec, 'clusterIPs'))[0] ?? str(spec, 'clusterIP') ?? '<none>';
    return [name(obj), str(spec, 'type') ?? 'ClusterIP', clusterIp, serviceExternalIp(obj), servicePorts(spec), age(obj, now), selector(spec)];
  },
};

const configMaps: Printer = {
  columns: [nameColumn, column('Data', 'The number of entries in data and binaryData.', 'integer'), ageColumn],
  cells: (obj, now) => [name(obj), Object.keys(child(obj, 'data')).length + Object.keys(child(obj, 'binaryData')).length, age(obj, now)],
};

const leases: Printer = {
  columns: [nameColumn, column('Holder', 'The holder of the lease.'), ageColumn],
  cells: (obj, now) => [name(obj), str(child(obj, 'spec'), 'holderIdentity') ?? '', age(obj, now)],
};

/** printers.go shows at most three endpoint addresses, then `+ N more...`. */
function limited(values: readonly string[], empty: string): string {
  if (values.length === 0) return empty;
  const shown = values.slice(0, 3).join(',');
  return values.length > 3 ? `${shown} + ${String(values.length - 3)} more...` : shown;
}

const endpointSlices: Printer = {
  columns: [
    nameColumn,
    column('AddressType', 'The IP protocol for this slice.'),
    column('Ports', 'The ports exposed by this slice.'),
    column('Endpoints', 'The endpoints in this slice.'),
    ageColumn,
  ],
  cells(obj, now) {
    const ports = list(obj, 'ports').filter(isObject).map((p) => (typeof p.port === 'number' ? String(p.port) : '<unset>'));
    const addresses = list(obj, 'endpoints').filter(isObject).flatMap((e) => strings(list(e, 'addresses')));
    return [name(obj), str(obj, 'addressType') ?? '', limited(ports, '<unset>'), limited(addresses, '<none>'), age(obj, now)];
  },
};

/** Events print their last occurrence; core v1 and events.k8s.io/v1 name the fields differently. */
function eventLastSeen(obj: JsonObject, now: Date): string {
  const at = str(obj, 'lastTimestamp') ?? str(obj, 'deprecatedLastTimestamp') ?? str(child(obj, 'series'), 'lastObservedTime') ?? str(obj, 'eventTime');
  return since(at, now);
}

const events: Printer = {
  columns: [
    column('Last Seen', 'Time when last event occurred.'),
    column('Type', 'Type of this event (Normal, Warning).'),
    column('Reason', 'Why the action was taken.'),
    column('Object', 'The object this event is about.'),
    column('Message', 'A human-readable description of the status of this operation.'),
    column('Name', 'Name of the event.', 'string', 1),
  ],
  cells(obj, now) {
    const about = isObject(obj.involvedObject) ? obj.involvedObject : child(obj, 'regarding');
    const object = `${(str(about, 'kind') ?? '').toLowerCase()}/${str(about, 'name') ?? ''}`;
    const message = (str(obj, 'message') ?? str(obj, 'note') ?? '').trim();
    return [eventLastSeen(obj, now), str(obj, 'type') ?? '', str(obj, 'reason') ?? '', object, message, name(obj)];
  },
};

/** STATUS of a Node: Ready / NotReady / Unknown, plus SchedulingDisabled when cordoned. */
function nodeStatus(obj: JsonObject): string {
  const ready = list(child(obj, 'status'), 'conditions')
    .filter(isObject)
    .find((c) => c.type === 'Ready');
  const state = ready === undefined ? 'Unknown' : ready.status === 'True' ? 'Ready' : 'NotReady';
  return child(obj, 'spec').unschedulable === true ? `${state},SchedulingDisabled` : state;
}

const rolePrefix = 'node-role.kubernetes.io/';

const nodes: Printer = {
  columns: [
    nameColumn,
    column('Status', 'The status of the node.'),
    column('Roles', 'The roles of the node.'),
    ageColumn,
    column('Version', 'Kubelet Version reported by the node.'),
  ],
  cells(obj, now) {
    const labels = Object.keys(child(child(obj, 'metadata'), 'labels'));
    const roles = labels.filter((l) => l.startsWith(rolePrefix) && l.length > rolePrefix.length).map((l) => l.slice(rolePrefix.length));
    const version = str(child(child(obj, 'status'), 'nodeInfo'), 'kubeletVersion') ?? '';
    return [name(obj), nodeStatus(obj), orNone(roles.sort()), age(obj, now), version];
  },
};

const namespaces: Printer = {
  columns: [nameColumn, column('Status', 'The status of the namespace.'), ageColumn],
  cells: (obj, now) => [name(obj), str(child(obj, 'status'), 'phase') ?? '', age(obj, now)],
};

const fallback: Printer = {
  columns: [nameColumn, ageColumn],
  cells: (obj, now) => [name(obj), age(obj, now)],
};

/** Printers by storage key; Events from both API groups share the core printer. */
const printers: ReadonlyMap<string, Printer> = new Map([
  ['/services', services],
  ['/configmaps', configMaps],
  ['coordination.k8s.io/leases', leases],
  ['discovery.k8s.io/endpointslices', endpointSlices],
  ['events', events],
  ['/nodes', nodes],
  ['/namespaces', namespaces],
]);

/** The `object` of a row as `includeObject` asks: PartialObjectMetadata (kubectl's default) or the whole object. */
function rowObject(def: ResourceDef, obj: JsonObject, include: 'Metadata' | 'Object'): JsonObject {
  if (include === 'Object') return { ...obj, apiVersion: apiVersionOf(def), kind: def.kind };
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: child(obj, 'metadata') };
}

/**
 * Renders objects as a meta.k8s.io/v1 Table with the columns a real cluster prints for them
 * (k8s.io/kubernetes/pkg/printers/internalversion), so `kubectl get` output matches.
 */
export const renderTable: TableRenderer = (def, objects, now, includeObject) => {
  const printer = printers.get(def.storage) ?? fallback;
  const rows = objects.map((obj) => {
    const row: JsonObject = { cells: [...printer.cells(obj, now)] };
    if (includeObject !== 'None') row.object = rowObject(def, obj, includeObject);
    return row;
  });
  return { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: {}, columnDefinitions: printer.columns.map((c) => ({ ...c })), rows };
};
