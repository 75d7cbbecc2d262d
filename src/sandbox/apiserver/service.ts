import { cidrContains, makeCidr, type Cidr } from '../../ip/cidr.js';
import { formatIp, ipFromValue, parseIp, type IpFamily } from '../../ip/ip-addr.js';
import type { Admission } from './admission.js';
import { child, clone, isObject, list, meta, removeKey, str, type JsonObject } from './object.js';
import { invalid, type FieldCause } from './status.js';

/**
 * kube-apiserver's defaults: --service-cluster-ip-range 10.96.0.0/12 (kubeadm) and, for the IPv6
 * family, a /108 (the largest range the allocator accepts, 2^20 addresses).
 */
const serviceCidrs: Readonly<Record<IpFamily, Cidr>> = {
  4: makeCidr(4, 0x0a600000n, 12),
  6: makeCidr(6, 0xfd000010009600000000000000000000n, 108),
};

/** --service-node-port-range default. */
const nodePorts = { first: 30000, last: 32767 } as const;

const serviceTypes = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'] as const;
type ServiceType = (typeof serviceTypes)[number];
const protocols = ['SCTP', 'TCP', 'UDP'];
const policies = ['PreferDualStack', 'RequireDualStack', 'SingleStack'];

function familyOfName(name: string): IpFamily {
  return name === 'IPv6' ? 6 : 4;
}

function quoted(values: readonly string[]): string {
  return values.map((v) => `"${v}"`).join(', ');
}

function show(value: unknown): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

function bad(field: string, value: unknown, why: string): FieldCause {
  return { reason: 'FieldValueInvalid', field, message: `Invalid value: ${show(value)}: ${why}` };
}

function required(field: string): FieldCause {
  return { reason: 'FieldValueRequired', field, message: 'Required value' };
}

function unsupported(field: string, value: unknown, supported: readonly string[]): FieldCause {
  return { reason: 'FieldValueNotSupported', field, message: `Unsupported value: ${show(value)}: supported values: ${quoted(supported)}` };
}

function duplicate(field: string, value: unknown): FieldCause {
  return { reason: 'FieldValueDuplicate', field, message: `Duplicate value: ${show(value)}` };
}

function strings(values: readonly unknown[]): string[] {
  return values.filter((v): v is string => typeof v === 'string' && v !== '');
}

const ipKey = (text: string): string => `ip/${text}`;
const portKey = (port: number): string => `port/${String(port)}`;

/** The keys (`ip/10.96.0.10`, `port/31234`) a stored Service holds in the allocators. */
function holdingsOf(obj: JsonObject | undefined): Set<string> {
  const held = new Set<string>();
  if (obj === undefined) return held;
  const spec = child(obj, 'spec');
  for (const ip of list(spec, 'clusterIPs')) {
    const parsed = typeof ip === 'string' ? parseIp(ip) : undefined;
    if (parsed?.ok === true) held.add(ipKey(formatIp(parsed.value)));
  }
  for (const port of list(spec, 'ports')) {
    if (isObject(port) && typeof port.nodePort === 'number') held.add(portKey(port.nodePort));
  }
  return held;
}

/** Reservations of one admission: committed on success, rolled back when the write is refused. */
class Reservation {
  private readonly added: string[] = [];
  readonly claimed = new Set<string>();

  constructor(
    private readonly held: Set<string>,
    private readonly old: ReadonlySet<string>,
  ) {}

  /** Takes `key` for the new object; false when someone else (or this object, twice) holds it. */
  take(key: string): boolean {
    if (this.claimed.has(key)) return false;
    if (!this.old.has(key)) {
      if (this.held.has(key)) return false;
      this.held.add(key);
      this.added.push(key);
    }
    this.claimed.add(key);
    return true;
  }

  isFree(key: string): boolean {
    return !this.claimed.has(key) && (this.old.has(key) || !this.held.has(key));
  }

  rollback(): void {
    for (const key of this.added) this.held.delete(key);
  }

  /** Releases what the old object held and the new one does not. */
  commit(): void {
    for (const key of this.old) if (!this.claimed.has(key)) this.held.delete(key);
  }
}

/** Where the next free-address scan of each allocator starts (kube-apiserver picks at random; in order is easier to read in tests). */
interface Cursors {
  4: bigint;
  6: bigint;
  port: number;
}

/**
 * Service defaulting and validation as kube-apiserver does it where ironlb and kubectl depend on
 * it: type and policy defaults, port validation, ClusterIP allocation (dual stack) and NodePort
 * allocation, immutable clusterIPs, and release of both on delete.
 */
export function createServiceAdmission(): Admission {
  const held = new Set<string>();
  const cursors: Cursors = { 4: 2n, 6: 1n, port: nodePorts.first };
  return {
    admit(obj, old) {
      return admitService(obj, old, held, cursors);
    },
    deleted(obj) {
      for (const key of holdingsOf(obj)) held.delete(key);
    },
    restored(obj) {
      for (const key of holdingsOf(obj)) held.add(key);
    },
  };
}

function admitService(obj: JsonObject, old: JsonObject | undefined, held: Set<string>, cursors: Cursors): JsonObject {
  const next = clone(obj);
  const spec = child(next, 'spec');
  next.spec = spec;
  const m = meta(next);
  const name = str(m, 'name') ?? '';
  const oldSpec = old === undefined ? undefined : child(old, 'spec');
  const causes: FieldCause[] = [];
  const type = defaultSpec(spec, causes);
  checkTypeFields(spec, type, oldSpec, causes);
  if (causes.length > 0) throw invalid('Service', '', name, causes);
  const tx = new Reservation(held, holdingsOf(old));
  const isKubernetes = name === 'kubernetes' && str(m, 'namespace') === 'default';
  assignClusterIps(spec, type, oldSpec, isKubernetes, { tx, cursors, causes });
  assignNodePorts(spec, type, oldSpec, { tx, cursors, causes });
  if (causes.length > 0) {
    tx.rollback();
    throw invalid('Service', '', name, causes);
  }
  tx.commit();
  return next;
}

/** Sets the type-independent defaults and returns the Service's type. */
function defaultSpec(spec: JsonObject, causes: FieldCause[]): ServiceType {
  const requested = spec.type ?? 'ClusterIP';
  const type = serviceTypes.find((t) => t === requested);
  if (type === undefined) {
    causes.push(unsupported('spec.type', requested, serviceTypes));
    return 'ClusterIP';
  }
  spec.type = type;
  spec.sessionAffinity ??= 'None';
  defaultPolicies(spec, type);
  return type;
}

function defaultPolicies(spec: JsonObject, type: ServiceType): void {
  const exposed = type === 'NodePort' || type === 'LoadBalancer';
  if (exposed) spec.externalTrafficPolicy ??= 'Cluster';
  else removeKey(spec, 'externalTrafficPolicy');
  if (type === 'ExternalName') removeKey(spec, 'internalTrafficPolicy');
  else spec.internalTrafficPolicy ??= 'Cluster';
  if (type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
  else removeKey(spec, 'allocateLoadBalancerNodePorts');
}

function checkTypeFields(spec: JsonObject, type: ServiceType, oldSpec: JsonObject | undefined, causes: FieldCause[]): void {
  if (type === 'ExternalName' && (str(spec, 'externalName') ?? '') === '') causes.push(required('spec.externalName'));
  const ports = list(spec, 'ports');
  if (ports.length === 0) {
    if (type !== 'ExternalName') causes.push(required('spec.ports'));
    return;
  }
  // A nodePort on a ClusterIP Service is refused, except that one left over from a type change
  // (LoadBalancer -> ClusterIP by kubectl apply) is dropped, as kube-apiserver does since 1.20.
  const fromExposed = oldSpec !== undefined && (oldSpec.type === 'NodePort' || oldSpec.type === 'LoadBalancer');
  const forbidNodePort = type === 'ClusterIP' && !fromExposed;
  const seen = { names: new Set<string>(), pairs: new Set<string>() };
  spec.ports = ports.map((raw, i) => normalizePort(raw, `spec.ports[${String(i)}]`, ports.length, seen, causes, forbidNodePort));
}

function normalizePort(raw: unknown, field: string, count: number, seen: { names: Set<string>; pairs: Set<string> }, causes: FieldCause[], forbidNodePort: boolean): JsonObject {
  const port = isObject(raw) ? clone(raw) : {};
  checkPortNumber(port, field, causes);
  port.targetPort ??= port.port;
  checkPortName(port, field, count, seen.names, causes);
  const pair = `${show(port.port)}/${show(port.protocol)}`;
  if (seen.pairs.has(pair)) causes.push(duplicate(field, pair));
  seen.pairs.add(pair);
  if (port.nodePort !== undefined && forbidNodePort) {
    causes.push({ reason: 'FieldValueForbidden', field: `${field}.nodePort`, message: "Forbidden: may not be used when `type` is 'ClusterIP'" });
  }
  return port;
}

function checkPortNumber(port: JsonObject, field: string, causes: FieldCause[]): void {
  port.protocol ??= 'TCP';
  if (typeof port.protocol !== 'string' || !protocols.includes(port.protocol)) causes.push(unsupported(`${field}.protocol`, port.protocol, protocols));
  const number = port.port;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 1 || number > 65535) {
    causes.push(bad(`${field}.port`, number ?? 0, 'must be between 1 and 65535, inclusive'));
  }
}

function checkPortName(port: JsonObject, field: string, count: number, names: Set<string>, causes: FieldCause[]): void {
  const name = str(port, 'name') ?? '';
  if (name === '') {
    if (count > 1) causes.push(required(`${field}.name`));
    return;
  }
  if (names.has(name)) causes.push(duplicate(`${field}.name`, name));
  names.add(name);
}

/** What the allocation steps share. */
interface Alloc {
  readonly tx: Reservation;
  readonly cursors: Cursors;
  readonly causes: FieldCause[];
}

function assignClusterIps(spec: JsonObject, type: ServiceType, oldSpec: JsonObject | undefined, isKubernetes: boolean, a: Alloc): void {
  if (type === 'ExternalName') {
    for (const key of ['clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy']) removeKey(spec, key);
    return;
  }
  const requested = requestedIps(spec, oldSpec, a.causes);
  if (requested.length === 0 && isKubernetes) requested.push('10.96.0.1');
  const families = resolveFamilies(spec, requested, a.causes);
  if (a.causes.length > 0) return;
  if (requested[0] === 'None') {
    spec.clusterIP = 'None';
    spec.clusterIPs = ['None'];
    return;
  }
  const ips = families.map((family, i) => {
    const want = requested[i];
    return want === undefined ? allocateIp(family, a) : reserveIp(want, i, isKubernetes, a);
  });
  spec.clusterIP = ips[0];
  spec.clusterIPs = ips;
}

/** The clusterIPs the client asked for, or the ones the Service already has (they are immutable). */
function requestedIps(spec: JsonObject, oldSpec: JsonObject | undefined, causes: FieldCause[]): string[] {
  const fromList = strings(list(spec, 'clusterIPs'));
  const single = str(spec, 'clusterIP') ?? '';
  if (single !== '' && fromList.length > 0 && fromList[0] !== single) {
    causes.push(bad('spec.clusterIPs[0]', fromList[0], 'must be same as clusterIP'));
  }
  const requested = fromList.length > 0 ? fromList : single === '' ? [] : [single];
  return keepOldIps(requested, oldSpec, causes);
}

/** clusterIPs are immutable: an update keeps them (it may add the second family's, for dual stack). */
function keepOldIps(requested: string[], oldSpec: JsonObject | undefined, causes: FieldCause[]): string[] {
  const oldIps = oldSpec === undefined || oldSpec.type === 'ExternalName' ? [] : strings(list(oldSpec, 'clusterIPs'));
  if (oldIps.length === 0) return requested;
  const changed = requested.findIndex((ip, i) => i < oldIps.length && ip !== oldIps[i]);
  if (changed >= 0) causes.push(bad(`spec.clusterIPs[${String(changed)}]`, requested[changed], 'field is immutable'));
  return requested.length > oldIps.length ? requested : [...oldIps];
}

/** Defaults ipFamilyPolicy and ipFamilies and checks the requested IPs against them. */
function resolveFamilies(spec: JsonObject, requested: readonly string[], causes: FieldCause[]): IpFamily[] {
  const policy = spec.ipFamilyPolicy ?? 'SingleStack';
  if (typeof policy !== 'string' || !policies.includes(policy)) causes.push(unsupported('spec.ipFamilyPolicy', policy, policies));
  const given = givenFamilies(spec, causes);
  const families = familiesFor(policy, given, requested);
  if (policy === 'SingleStack' && families.length > 1) {
    causes.push(bad('spec.ipFamilies', given, 'when `ipFamilyPolicy` is SingleStack, only one ipFamily may be specified'));
  }
  checkIpsMatchFamilies(requested, families, causes);
  spec.ipFamilyPolicy = policy;
  spec.ipFamilies = families.map((f) => (f === 6 ? 'IPv6' : 'IPv4'));
  return families;
}

/** ipFamilies as given, else the requested IPs' families, else IPv4; both for the dual-stack policies. */
function familiesFor(policy: unknown, given: readonly string[], requested: readonly string[]): IpFamily[] {
  const fromIps = requested.filter((ip) => ip !== 'None').map((ip) => familyOfIp(ip));
  const families: IpFamily[] = given.length > 0 ? given.map(familyOfName) : fromIps.length > 0 ? fromIps : [4];
  const first = families[0] ?? 4;
  return policy !== 'SingleStack' && families.length === 1 ? [first, first === 6 ? 4 : 6] : families;
}

function givenFamilies(spec: JsonObject, causes: FieldCause[]): string[] {
  const given = list(spec, 'ipFamilies').map(String);
  given.forEach((f, i) => {
    if (f !== 'IPv4' && f !== 'IPv6') causes.push(unsupported(`spec.ipFamilies[${String(i)}]`, f, ['IPv4', 'IPv6']));
    else if (given.indexOf(f) !== i) causes.push(duplicate(`spec.ipFamilies[${String(i)}]`, f));
  });
  return given;
}

function familyOfIp(text: string): IpFamily {
  const parsed = parseIp(text);
  return parsed.ok ? parsed.value.family : 4;
}

function checkIpsMatchFamilies(requested: readonly string[], families: readonly IpFamily[], causes: FieldCause[]): void {
  if (requested[0] === 'None') return;
  if (requested.length > families.length) causes.push(bad('spec.clusterIPs', requested, 'may specify no more than one IP for each IP family'));
  requested.forEach((ip, i) => {
    const family = families[i];
    const parsed = parseIp(ip);
    if (!parsed.ok) causes.push(bad(`spec.clusterIPs[${String(i)}]`, ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
    else if (family !== undefined && parsed.value.family !== family) {
      causes.push(bad(`spec.clusterIPs[${String(i)}]`, ip, `expected an IPv${String(family)} value as indicated by \`ipFamilies[${String(i)}]\``));
    }
  });
}

function reserveIp(text: string, index: number, isKubernetes: boolean, a: Alloc): string {
  const field = `spec.clusterIPs[${String(index)}]`;
  const parsed = parseIp(text);
  if (!parsed.ok) return text;
  const ip = parsed.value;
  const cidr = serviceCidrs[ip.family];
  const offset = ip.value - cidr.base;
  const reserved = offset === 0n || (offset === 1n && !isKubernetes) || (ip.family === 4 && offset === (1n << BigInt(32 - cidr.prefix)) - 1n);
  const canonical = formatIp(ip);
  if (!cidrContains(cidr, ip) || reserved) {
    const range = `${formatIp({ family: cidr.family, value: cidr.base })}/${String(cidr.prefix)}`;
    a.causes.push(bad(field, text, `failed to allocate IP ${text}: the provided IP (${text}) is not in the valid range. The range of valid IPs is ${range}`));
  } else if (!a.tx.take(ipKey(canonical))) {
    a.causes.push(bad(field, text, `failed to allocate IP ${text}: provided IP is already allocated`));
  }
  return canonical;
}

function allocateIp(family: IpFamily, a: Alloc): string {
  const cidr = serviceCidrs[family];
  const size = 1n << BigInt((family === 4 ? 32 : 128) - cidr.prefix);
  // Offset 0 is the network, 1 is the `kubernetes` Service, and the IPv4 broadcast is never handed out.
  const last = family === 4 ? size - 2n : size - 1n;
  for (let n = 0n; n < last - 1n; n++) {
    const offset = a.cursors[family] > last ? 2n : a.cursors[family];
    a.cursors[family] = offset + 1n;
    const text = formatIp(ipFromValue(family, cidr.base + offset));
    if (a.tx.take(ipKey(text))) return text;
  }
  a.causes.push(bad('spec.clusterIPs', [], `failed to allocate a serviceIP: range is full`));
  return '';
}

function assignNodePorts(spec: JsonObject, type: ServiceType, oldSpec: JsonObject | undefined, a: Alloc): void {
  const ports = list(spec, 'ports').filter(isObject);
  if (type === 'ClusterIP' || type === 'ExternalName') {
    for (const port of ports) removeKey(port, 'nodePort');
    return;
  }
  const allocate = type === 'NodePort' || spec.allocateLoadBalancerNodePorts !== false;
  const oldPorts = oldSpec === undefined ? [] : list(oldSpec, 'ports').filter(isObject);
  ports.forEach((port, i) => {
    const wanted = typeof port.nodePort === 'number' ? port.nodePort : keptNodePort(oldPorts, port);
    if (wanted !== undefined) port.nodePort = reservePort(wanted, `spec.ports[${String(i)}].nodePort`, a);
    else if (allocate) port.nodePort = allocatePort(a);
  });
}

/** The nodePort the same port had before: `kubectl apply` of a manifest without nodePorts keeps them. */
function keptNodePort(oldPorts: readonly JsonObject[], port: JsonObject): number | undefined {
  const same = oldPorts.find((p) => p.port === port.port && p.protocol === port.protocol);
  return same !== undefined && typeof same.nodePort === 'number' ? same.nodePort : undefined;
}

function reservePort(port: number, field: string, a: Alloc): number {
  if (!Number.isInteger(port) || port < nodePorts.first || port > nodePorts.last) {
    a.causes.push(bad(field, port, `provided port is not in the valid range. The range of valid ports is ${String(nodePorts.first)}-${String(nodePorts.last)}`));
  } else if (!a.tx.take(portKey(port))) {
    a.causes.push(bad(field, port, 'provided port is already allocated'));
  }
  return port;
}

function allocatePort(a: Alloc): number {
  const size = nodePorts.last - nodePorts.first + 1;
  for (let n = 0; n < size; n++) {
    const port = a.cursors.port > nodePorts.last ? nodePorts.first : a.cursors.port;
    a.cursors.port = port + 1;
    if (a.tx.isFree(portKey(port)) && a.tx.take(portKey(port))) return port;
  }
  a.causes.push(bad('spec.ports', [], 'failed to allocate a nodePort: range is full'));
  return 0;
}
