import { familyName, parseIp, type IpAddr, type IpFamily } from '../ip/ip-addr.js';
import type { IpFamilyPolicy, PortProtocol, ServicePort, ServiceRequest, TrafficPolicy } from '../ipam/service-request.js';
import type { PoolName } from '../shared/brand.js';
import { err, ok, type Result } from '../shared/result.js';
import { serviceKeyOf, type ServiceView } from './service.js';

/** Why a Service cannot be turned into a request; `message` is fit for a Service Event. */
export type ServiceRequestError =
  | { readonly kind: 'conflictingAnnotations'; readonly message: string }
  | { readonly kind: 'invalidAnnotation'; readonly annotation: string; readonly message: string }
  | { readonly kind: 'invalidSpec'; readonly field: string; readonly message: string };

/** Annotation prefixes, ironlb's own first, MetalLB's spelling accepted as an alias. */
export const annotationPrefixes = ['ironlb.io/', 'metallb.universe.tf/'] as const;
/** Annotation names under either prefix. */
export const annotations = { pool: 'address-pool', ips: 'loadBalancerIPs', sharing: 'allow-shared-ip' } as const;

/** Longest values accepted: pool names and sharing keys are names; two IPv6 addresses fit in 100. */
const maxNameLength = 253;
const maxIpsLength = 100;
const maxQuoted = 60;

function quoteValue(text: string): string {
  return JSON.stringify(text.length > maxQuoted ? `${text.slice(0, maxQuoted)}...` : text);
}

type Annotations = Readonly<Record<string, string>>;

/** Reads one annotation under both prefixes; both set and different is an error naming both. */
function readAnnotation(all: Annotations, name: string): Result<{ value: string; annotation: string } | undefined, ServiceRequestError> {
  const [ours, alias] = annotationPrefixes.map((p) => `${p}${name}`) as [string, string];
  const a = all[ours];
  const b = all[alias];
  if (a !== undefined && b !== undefined && a !== b) {
    return err({ kind: 'conflictingAnnotations', message: `annotations ${ours} (${quoteValue(a)}) and ${alias} (${quoteValue(b)}) disagree: set only one` });
  }
  if (a !== undefined) return ok({ value: a, annotation: ours });
  if (b !== undefined) return ok({ value: b, annotation: alias });
  return ok(undefined);
}

function invalid(annotation: string, message: string): { ok: false; error: ServiceRequestError } {
  return err({ kind: 'invalidAnnotation', annotation, message: `annotation ${annotation}: ${message}` });
}

function readName(all: Annotations, name: string, what: string): Result<string | undefined, ServiceRequestError> {
  const found = readAnnotation(all, name);
  if (!found.ok || found.value === undefined) return found.ok ? ok(undefined) : found;
  const value = found.value.value.trim();
  if (value === '') return invalid(found.value.annotation, `the ${what} is empty`);
  if (value.length > maxNameLength) return invalid(found.value.annotation, `the ${what} is longer than ${maxNameLength} characters`);
  if (/[\s,]/.test(value)) return invalid(found.value.annotation, `the ${what} ${quoteValue(value)} contains spaces or commas`);
  return ok(value);
}

/** Parses a comma list of IPs, at most one per family. */
function parseIpList(text: string, where: string): Result<readonly IpAddr[], string> {
  if (text.length > maxIpsLength) return err(`${where}: the value is longer than ${maxIpsLength} characters`);
  if (text.trim() === '') return err(`${where}: the value is empty`);
  const parts = text.split(',').map((s) => s.trim());
  if (parts.includes('')) return err(`${where}: ${quoteValue(text)} has an empty entry`);
  if (parts.length > 2) return err(`${where}: ${quoteValue(text)} lists ${parts.length} addresses: give at most one IPv4 and one IPv6`);
  const ips: IpAddr[] = [];
  for (const part of parts) {
    const ip = parseIp(part);
    if (!ip.ok) return err(`${where}: ${quoteValue(part)} is ${ip.error}`);
    if (ips.some((other) => other.family === ip.value.family)) {
      return err(`${where}: ${quoteValue(text)} gives two ${familyName(ip.value.family)} addresses: give at most one per family`);
    }
    ips.push(ip.value);
  }
  return ok(ips);
}

function sameIps(a: readonly IpAddr[], b: readonly IpAddr[]): boolean {
  return a.length === b.length && a.every((ip) => b.some((o) => o.family === ip.family && o.value === ip.value));
}

function readAnnotatedIps(all: Annotations): Result<{ ips: readonly IpAddr[]; annotation: string; text: string } | undefined, ServiceRequestError> {
  const found = readAnnotation(all, annotations.ips);
  if (!found.ok || found.value === undefined) return found.ok ? ok(undefined) : found;
  const { value, annotation } = found.value;
  const parsed = parseIpList(value, `annotation ${annotation}`);
  if (!parsed.ok) return err({ kind: 'invalidAnnotation', annotation, message: parsed.error });
  return ok({ ips: parsed.value, annotation, text: value });
}

function readRequestedIps(all: Annotations, specIp: string | null | undefined): Result<readonly IpAddr[], ServiceRequestError> {
  const annotated = readAnnotatedIps(all);
  if (!annotated.ok) return annotated;
  if (specIp === undefined || specIp === null || specIp === '') return ok(annotated.value?.ips ?? []);
  const parsed = parseIpList(specIp, 'spec.loadBalancerIP');
  if (!parsed.ok) return err({ kind: 'invalidSpec', field: 'spec.loadBalancerIP', message: parsed.error });
  const a = annotated.value;
  if (a !== undefined && !sameIps(a.ips, parsed.value)) {
    return err({ kind: 'conflictingAnnotations', message: `spec.loadBalancerIP (${quoteValue(specIp)}) and annotation ${a.annotation} (${quoteValue(a.text)}) disagree: set only one` });
  }
  return ok(parsed.value);
}

const protocols: readonly string[] = ['TCP', 'UDP', 'SCTP'];

function readPorts(spec: Spec): Result<readonly ServicePort[], ServiceRequestError> {
  const ports: ServicePort[] = [];
  for (const [i, p] of (spec.ports ?? []).entries()) {
    const protocol = p.protocol ?? 'TCP';
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535 || !protocols.includes(protocol)) {
      return err({ kind: 'invalidSpec', field: `spec.ports[${i}]`, message: `spec.ports[${i}]: ${quoteValue(`${p.port}/${protocol}`)} is not a valid port and protocol` });
    }
    ports.push({ port: p.port, protocol: protocol as PortProtocol });
  }
  return ok(ports);
}

function readFamilyList(names: readonly string[]): Result<readonly IpFamily[], ServiceRequestError> {
  const ipFamilies: IpFamily[] = [];
  for (const name of names) {
    const family = name === 'IPv4' ? 4 : name === 'IPv6' ? 6 : undefined;
    if (family === undefined || ipFamilies.includes(family)) {
      return err({ kind: 'invalidSpec', field: 'spec.ipFamilies', message: `spec.ipFamilies: ${quoteValue(names.join(','))} is not a list of distinct IPv4/IPv6` });
    }
    ipFamilies.push(family);
  }
  return ok(ipFamilies);
}

const familyPolicies: readonly string[] = ['SingleStack', 'PreferDualStack', 'RequireDualStack'];

function readFamilyPolicy(policy: string): Result<IpFamilyPolicy, ServiceRequestError> {
  if (familyPolicies.includes(policy)) return ok(policy as IpFamilyPolicy);
  return err({ kind: 'invalidSpec', field: 'spec.ipFamilyPolicy', message: `spec.ipFamilyPolicy: ${quoteValue(policy)} is not SingleStack, PreferDualStack or RequireDualStack` });
}

function readTrafficPolicy(spec: Spec): Result<TrafficPolicy, ServiceRequestError> {
  const policy = spec.externalTrafficPolicy ?? 'Cluster';
  if (policy === 'Cluster' || policy === 'Local') return ok(policy);
  return err({ kind: 'invalidSpec', field: 'spec.externalTrafficPolicy', message: `spec.externalTrafficPolicy: ${quoteValue(policy)} is not Cluster or Local` });
}

/** Creation time in ms; a Service without one counts as the newest (it loses IP conflicts). */
function createdAt(meta: ServiceView['metadata']): number {
  const t = meta?.creationTimestamp;
  const ms = t instanceof Date ? t.getTime() : typeof t === 'string' ? Date.parse(t) : NaN;
  return Number.isFinite(ms) ? ms : Number.MAX_SAFE_INTEGER;
}

type Spec = NonNullable<ServiceView['spec']>;
type AnnotatedPart = Pick<ServiceRequest, 'requestedIps' | 'requestedPool' | 'sharingKey'>;
type SpecPart = Pick<ServiceRequest, 'ports' | 'externalTrafficPolicy' | 'selector' | 'ipFamilies' | 'ipFamilyPolicy'>;

function readAnnotated(all: Annotations, spec: Spec): Result<AnnotatedPart, ServiceRequestError> {
  const pool = readName(all, annotations.pool, 'pool name');
  if (!pool.ok) return pool;
  const sharingKey = readName(all, annotations.sharing, 'sharing key');
  if (!sharingKey.ok) return sharingKey;
  const requestedIps = readRequestedIps(all, spec.loadBalancerIP);
  if (!requestedIps.ok) return requestedIps;
  return ok({
    requestedIps: requestedIps.value,
    ...(pool.value === undefined ? {} : { requestedPool: pool.value as PoolName }),
    ...(sharingKey.value === undefined ? {} : { sharingKey: sharingKey.value }),
  });
}

function readSpec(spec: Spec): Result<SpecPart, ServiceRequestError> {
  const ports = readPorts(spec);
  if (!ports.ok) return ports;
  const ipFamilies = readFamilyList(spec.ipFamilies ?? []);
  if (!ipFamilies.ok) return ipFamilies;
  const ipFamilyPolicy = readFamilyPolicy(spec.ipFamilyPolicy ?? 'SingleStack');
  if (!ipFamilyPolicy.ok) return ipFamilyPolicy;
  const trafficPolicy = readTrafficPolicy(spec);
  if (!trafficPolicy.ok) return trafficPolicy;
  return ok({
    ports: ports.value,
    externalTrafficPolicy: trafficPolicy.value,
    selector: spec.selector ?? {},
    ipFamilies: ipFamilies.value,
    ipFamilyPolicy: ipFamilyPolicy.value,
  });
}

/**
 * Translates a Service into the allocator's terms: annotations (`ironlb.io/` or the
 * `metallb.universe.tf/` alias) `address-pool`, `loadBalancerIPs`, `allow-shared-ip`, and
 * `spec.loadBalancerIP`, ports, traffic policy, selector and IP families. Malformed values are
 * an error whose message names the annotation or field, fit for a Service Event.
 */
export function toServiceRequest(svc: ServiceView): Result<ServiceRequest, ServiceRequestError> {
  const spec = svc.spec ?? {};
  const annotated = readAnnotated(svc.metadata?.annotations ?? {}, spec);
  if (!annotated.ok) return annotated;
  const specPart = readSpec(spec);
  if (!specPart.ok) return specPart;
  const key = serviceKeyOf(svc);
  return ok({ key, createdAt: createdAt(svc.metadata), ...annotated.value, ...specPart.value });
}

/**
 * The request to restore a Service's IPs with on start-up. Never fails: a Service whose
 * annotations are malformed still holds its IPs, and the allocator must know they are taken
 * (its next assign() reports the annotation error and leaves the IPs alone). Falls back to the
 * Service without annotations, then to a bare request with no ports and no sharing.
 */
export function toRestoreRequest(svc: ServiceView): ServiceRequest {
  const full = toServiceRequest(svc);
  if (full.ok) return full.value;
  const plain = toServiceRequest({ ...svc, metadata: { ...svc.metadata, annotations: {} } });
  if (plain.ok) return plain.value;
  return {
    key: serviceKeyOf(svc),
    createdAt: createdAt(svc.metadata),
    requestedIps: [],
    ports: [],
    externalTrafficPolicy: 'Cluster',
    selector: {},
    ipFamilies: [],
    ipFamilyPolicy: 'SingleStack',
  };
}
