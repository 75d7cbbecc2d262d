import { formatIp, ipFromValue, parseIp, type IpFamily } from '../../ip/ip-addr.js';
import type { Admission } from './admission.js';
import { child, list, str, type JsonObject } from './object.js';
import { invalid, type FieldCause } from './status.js';

/** kube-apiserver's defaults: --service-cluster-ip-range and --service-node-port-range. */
const clusterRanges: Readonly<Record<IpFamily, { readonly base: bigint; readonly size: number }>> = {
  4: { base: 0x0a600000n, size: 1 << 20 }, // 10.96.0.0/12
  6: { base: 0xfd000010009600000000000000000000n, size: 1 << 20 }, // fd00:10:96::/108
};
const nodePortMin = 30000;
const nodePortMax = 32767;
const serviceTypes = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
const protocols = ['TCP', 'UDP', 'SCTP'];
const familyOf = { IPv4: 4, IPv6: 6 } as const;

/** Free-number bookkeeping with a moving cursor, as the apiserver's bitmap allocators do. */
class NumberPool {
  private readonly used = new Set<number>();
  private cursor = 0;
  constructor(
    private readonly first: number,
    private readonly last: number,
  ) {}
  has(n: number): boolean {
    return this.used.has(n);
  }
  inRange(n: number): boolean {
    return Number.isInteger(n) && n >= this.first && n <= this.last;
  }
  reserve(n: number): void {
    this.used.add(n);
  }
  release(n: number): void {
    this.used.delete(n);
  }
  /** The next free number after the cursor, not among `taken`. */
  pick(taken: ReadonlySet<number>): number | undefined {
    const span = this.last - this.first + 1;
    for (let i = 0; i < span; i += 1) {
      const n = this.first + ((this.cursor + i) % span);
      if (!this.used.has(n) && !taken.has(n)) {
        this.cursor = (n - this.first + 1) % span;
        return n;
      }
    }
    return undefined;
  }
}

/** What a Service holds: cluster IPs (as offsets per family) and node ports. */
interface Held {
  readonly ips: readonly { readonly family: IpFamily; readonly offset: number }[];
  readonly nodePorts: readonly number[];
}

function portList(spec: JsonObject): JsonObject[] {
  return list(spec, 'ports').map((p) => (typeof p === 'object' && p !== null ? (p as JsonObject) : {}));
}

function heldBy(obj: JsonObject | undefined): Held {
  if (obj === undefined) return { ips: [], nodePorts: [] };
  const spec = child(obj, 'spec');
  const ips = list(spec, 'clusterIPs')
    .map((t) => (typeof t === 'string' ? parseIp(t) : undefined))
    .flatMap((r) => (r?.ok === true ? [{ family: r.value.family, offset: Number(r.value.value - clusterRanges[r.value.family].base) }] : []));
  const nodePorts = portList(spec).flatMap((p) => (typeof p.nodePort === 'number' ? [p.nodePort] : []));
  return { ips, nodePorts };
}

function validPort(port: unknown): boolean {
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;
}

function checkPortName(name: string, at: string, many: boolean, seen: Set<string>, causes: FieldCause[]): void {
  if (many && name === '') causes.push({ reason: 'FieldValueRequired', field: `${at}.name`, message: 'Required value' });
  if (name !== '' && seen.has(`name:${name}`)) causes.push({ reason: 'FieldValueDuplicate', field: `${at}.name`, message: `Duplicate value: "${name}"` });
  seen.add(`name:${name}`);
}

/** Defaults and checks one port; `seen` collects names and port/protocol keys across ports. */
function validatePort(p: JsonObject, i: number, many: boolean, seen: Set<string>, causes: FieldCause[]): void {
  const at = `spec.ports[${String(i)}]`;
  const protocol = str(p, 'protocol') ?? 'TCP';
  p.protocol = protocol;
  if (p.targetPort === undefined) p.targetPort = p.port;
  if (!validPort(p.port)) causes.push({ reason: 'FieldValueInvalid', field: `${at}.port`, message: `Invalid value: ${JSON.stringify(p.port ?? null)}: must be between 1 and 65535, inclusive` });
  if (!protocols.includes(protocol)) causes.push({ reason: 'FieldValueNotSupported', field: `${at}.protocol`, message: `Unsupported value: "${protocol}": supported values: "SCTP", "TCP", "UDP"` });
  checkPortName(str(p, 'name') ?? '', at, many, seen, causes);
  const key = `${String(p.port)}/${protocol}`;
  if (seen.has(`port:${key}`)) causes.push({ reason: 'FieldValueDuplicate', field: at, message: `Duplicate value: ${key}` });
  seen.add(`port:${key}`);
}

function validatePorts(spec: JsonObject, causes: FieldCause[]): void {
  const ports = portList(spec);
  if (ports.length === 0) causes.push({ reason: 'FieldValueRequired', field: 'spec.ports', message: 'Required value' });
  const seen = new Set<string>();
  ports.forEach((p, i) => {
    validatePort(p, i, ports.length > 1, seen, causes);
  });
}

function defaultPolicies(spec: JsonObject, type: string): void {
  if (spec.sessionAffinity === undefined) spec.sessionAffinity = 'None';
  if (type === 'ExternalName') return;
  if (spec.internalTrafficPolicy === undefined) spec.internalTrafficPolicy = 'Cluster';
  if (type === 'NodePort' || type === 'LoadBalancer') {
    if (spec.externalTrafficPolicy === undefined) spec.externalTrafficPolicy = 'Cluster';
  } else {
    Reflect.deleteProperty(spec, 'externalTrafficPolicy');
  }
  if (type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts === undefined) spec.allocateLoadBalancerNodePorts = true;
}

/** Fields kube-apiserver requires or refuses per type and policy (ValidateService). */
function checkTypeFields(spec: JsonObject, type: string, causes: FieldCause[]): void {
  if (type === 'ExternalName' && (str(spec, 'externalName') ?? '') === '') causes.push({ reason: 'FieldValueRequired', field: 'spec.externalName', message: 'Required value' });
  const policy = str(spec, 'ipFamilyPolicy') ?? 'SingleStack';
  if (type !== 'ExternalName' && policy === 'SingleStack' && list(spec, 'ipFamilies').length > 1) {
    causes.push({ reason: 'FieldValueInvalid', field: 'spec.ipFamilyPolicy', message: `Invalid value: "SingleStack": must be RequireDualStack or PreferDualStack when multiple 'ipFamilies' are specified` });
  }
}

/** ipFamilyPolicy and ipFamilies, defaulted like kube-apiserver on a dual-stack cluster with IPv4 first. */
function defaultFamilies(spec: JsonObject, requested: readonly string[]): IpFamily[] {
  const policy = str(spec, 'ipFamilyPolicy') ?? 'SingleStack';
  spec.ipFamilyPolicy = policy;
  const given = list(spec, 'ipFamilies').flatMap((f) => (f === 'IPv4' || f === 'IPv6' ? [familyOf[f]] : []));
  const fromIps = requested.flatMap((t) => {
    const r = parseIp(t);
    return r.ok ? [r.value.family] : [];
  });
  const primary = given[0] ?? fromIps[0] ?? 4;
  const families: IpFamily[] = policy === 'SingleStack' ? [primary] : [primary, primary === 4 ? 6 : 4];
  spec.ipFamilies = families.map((f) => (f === 4 ? 'IPv4' : 'IPv6'));
  return families;
}

/**
 * Service defaulting and validation as kube-apiserver does it where ironlb and kubectl depend
 * on it: type, ports, policies, IP families, cluster IPs from 10.96.0.0/12 and fd00:10:96::/108,
 * node ports from 30000-32767 (kept across updates that drop them, as `kubectl apply` does),
 * immutable cluster IPs. Errors are 422 Invalid with field paths.
 */
export function createServiceAdmission(): Admission {
  const ipPools: Record<IpFamily, NumberPool> = { 4: new NumberPool(2, clusterRanges[4].size - 2), 6: new NumberPool(2, clusterRanges[6].size - 1) };
  const nodePorts = new NumberPool(nodePortMin, nodePortMax);
  // 10.96.0.1 belongs to the `kubernetes` Service on a real cluster: never handed out.
  ipPools[4].reserve(1);
  ipPools[6].reserve(1);

  const reserve = (h: Held): void => {
    for (const ip of h.ips) ipPools[ip.family].reserve(ip.offset);
    for (const p of h.nodePorts) nodePorts.reserve(p);
  };
  const release = (h: Held): void => {
    for (const ip of h.ips) ipPools[ip.family].release(ip.offset);
    for (const p of h.nodePorts) nodePorts.release(p);
  };

  /** An update keeps the cluster IPs the Service has; asking for another one is refused. */
  function keepClusterIps(spec: JsonObject, oldSpec: JsonObject, causes: FieldCause[]): void {
    const oldIps = list(oldSpec, 'clusterIPs');
    const requested = str(spec, 'clusterIP');
    if (requested !== undefined && requested !== '' && requested !== oldIps[0]) causes.push({ reason: 'FieldValueInvalid', field: 'spec.clusterIPs[0]', message: 'Invalid value: field is immutable' });
    spec.clusterIP = oldIps[0];
    spec.clusterIPs = oldIps;
    spec.ipFamilies = list(oldSpec, 'ipFamilies');
  }

  function assignClusterIps(spec: JsonObject, old: JsonObject | undefined, families: readonly IpFamily[], causes: FieldCause[]): void {
    const oldSpec = old === undefined ? undefined : child(old, 'spec');
    if (oldSpec !== undefined && list(oldSpec, 'clusterIPs').length > 0 && str(oldSpec, 'type') !== 'ExternalName') {
      keepClusterIps(spec, oldSpec, causes);
      return;
    }
    const requested = str(spec, 'clusterIP') ?? '';
    if (requested === 'None') {
      spec.clusterIPs = ['None'];
      return;
    }
    const ips = families.flatMap((family, i) => {
      const ip = i === 0 && requested !== '' ? checkIp(requested, family, i, causes) : pickIp(family);
      return ip === undefined ? [] : [ip];
    });
    spec.clusterIP = ips[0];
    spec.clusterIPs = ips;
  }

  function pickIp(family: IpFamily): string | undefined {
    const offset = ipPools[family].pick(new Set());
    return offset === undefined ? undefined : formatIp(ipFromValue(family, clusterRanges[family].base + BigInt(offset)));
  }

  function checkIp(text: string, family: IpFamily, i: number, causes: FieldCause[]): string | undefined {
    const parsed = parseIp(text);
    const offset = parsed.ok ? Number(parsed.value.value - clusterRanges[parsed.value.family].base) : -1;
    const field = `spec.clusterIPs[${String(i)}]`;
    if (!parsed.ok || parsed.value.family !== family || !ipPools[family].inRange(offset)) {
      causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: "${text}": provided IP is not in the valid range. The range of valid IPs is ${family === 4 ? '10.96.0.0/12' : 'fd00:10:96::/108'}` });
      return undefined;
    }
    if (ipPools[family].has(offset)) {
      causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: "${text}": provided IP is already allocated` });
      return undefined;
    }
    return formatIp(parsed.value);
  }

  /** The node port the port asks for, or the one it had before (kubectl apply drops them). */
  function askedNodePort(p: JsonObject, previous: readonly JsonObject[]): number | undefined {
    if (typeof p.nodePort === 'number') return p.nodePort;
    const kept = previous.find((q) => q.port === p.port && (str(q, 'protocol') ?? 'TCP') === p.protocol)?.nodePort;
    return typeof kept === 'number' ? kept : undefined;
  }

  /** The node port for one port: asked for, kept from before, or the next free one. */
  function nodePortFor(p: JsonObject, i: number, previous: readonly JsonObject[], mine: ReadonlySet<number>, taken: Set<number>, causes: FieldCause[]): void {
    const asked = askedNodePort(p, previous);
    const field = `spec.ports[${String(i)}].nodePort`;
    if (asked !== undefined && !nodePorts.inRange(asked)) {
      causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${String(asked)}: provided port is not in the valid range. The range of valid ports is ${String(nodePortMin)}-${String(nodePortMax)}` });
      return;
    }
    if (asked !== undefined && ((nodePorts.has(asked) && !mine.has(asked)) || taken.has(asked))) {
      causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${String(asked)}: provided port is already allocated` });
      return;
    }
    const port = asked ?? nodePorts.pick(taken);
    if (port === undefined) return;
    p.nodePort = port;
    taken.add(port);
  }

  function assignNodePorts(spec: JsonObject, type: string, old: JsonObject | undefined, causes: FieldCause[]): void {
    const wants = type === 'NodePort' || (type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false);
    const previous = old === undefined ? [] : portList(child(old, 'spec'));
    const mine = new Set(heldBy(old).nodePorts);
    const taken = new Set<number>();
    portList(spec).forEach((p, i) => {
      if (wants) nodePortFor(p, i, previous, mine, taken, causes);
      else Reflect.deleteProperty(p, 'nodePort');
    });
  }

  return {
    admit(obj, old) {
      const name = str(child(obj, 'metadata'), 'name') ?? '';
      const spec = child(obj, 'spec');
      obj.spec = spec;
      const type = str(spec, 'type') ?? 'ClusterIP';
      spec.type = type;
      const causes: FieldCause[] = [];
      if (!serviceTypes.includes(type)) causes.push({ reason: 'FieldValueNotSupported', field: 'spec.type', message: `Unsupported value: "${type}": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"` });
      defaultPolicies(spec, type);
      checkTypeFields(spec, type, causes);
      if (type === 'ExternalName') {
        for (const key of ['clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy']) Reflect.deleteProperty(spec, key);
      } else {
        validatePorts(spec, causes);
        const requested = [str(spec, 'clusterIP') ?? '', ...list(spec, 'clusterIPs').filter((x): x is string => typeof x === 'string')].filter((t) => t !== '' && t !== 'None');
        assignClusterIps(spec, old, defaultFamilies(spec, requested), causes);
        assignNodePorts(spec, type, old, causes);
      }
      if (causes.length > 0) throw invalid('Service', '', name, causes);
      release(heldBy(old));
      reserve(heldBy(obj));
      return obj;
    },
    deleted(obj) {
      release(heldBy(obj));
    },
    restored(obj) {
      reserve(heldBy(obj));
    },
  };
}
