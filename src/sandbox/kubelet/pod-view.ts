import { child, isObject, list, str, type JsonObject } from '../apiserver/object.js';
import type { ContainerPortSpec, ContainerSecurity, ContainerSpec, EnvVar, PodIdentity } from './runtime.js';

/**
 * What the sandbox kubelet reads from a Pod, parsed from wire JSON into readonly views. Pure.
 */

/** A probe (core/v1 Probe) reduced to what the kubelet runs: httpGet, tcpSocket and exec; grpc is recognised, not run. */
export interface ProbeSpec {
  readonly action:
    | { readonly kind: 'http'; readonly host: string | undefined; readonly port: number | string; readonly path: string; readonly scheme: string }
    | { readonly kind: 'tcp'; readonly host: string | undefined; readonly port: number | string }
    | { readonly kind: 'exec'; readonly command: readonly string[] }
    | { readonly kind: 'unsupported'; readonly what: 'grpc' | 'no handler' };
  readonly initialDelaySeconds: number;
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
  /** probe-level terminationGracePeriodSeconds (liveness), if set. */
  readonly terminationGracePeriodSeconds: number | undefined;
}

/** One container with its probes. */
export interface ContainerView {
  readonly spec: ContainerSpec;
  readonly readiness: ProbeSpec | undefined;
  readonly liveness: ProbeSpec | undefined;
  readonly startup: ProbeSpec | undefined;
  /** env as written (value or valueFrom), resolved per start by `resolveEnv`. */
  readonly env: readonly JsonObject[];
}

/** A Pod as its kubelet needs it. */
export interface PodView {
  readonly id: PodIdentity;
  readonly nodeName: string;
  readonly hostNetwork: boolean;
  readonly restartPolicy: 'Always' | 'OnFailure' | 'Never';
  readonly terminationGracePeriodSeconds: number;
  readonly serviceAccountName: string;
  readonly automountServiceAccountToken: boolean;
  readonly containers: readonly ContainerView[];
}

function num(obj: JsonObject, key: string, fallback: number): number {
  const v = obj[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

function strings(obj: JsonObject, key: string): string[] {
  return list(obj, key).filter((v): v is string => typeof v === 'string');
}

function portOf(value: unknown): number | string {
  return typeof value === 'number' || typeof value === 'string' ? value : 0;
}

function probeAction(raw: JsonObject): ProbeSpec['action'] {
  const http = raw.httpGet;
  const tcp = raw.tcpSocket;
  if (isObject(http)) return { kind: 'http', host: str(http, 'host'), port: portOf(http.port), path: str(http, 'path') ?? '/', scheme: str(http, 'scheme') ?? 'HTTP' };
  if (isObject(tcp)) return { kind: 'tcp', host: str(tcp, 'host'), port: portOf(tcp.port) };
  if (isObject(raw.exec)) return { kind: 'exec', command: strings(raw.exec, 'command') };
  return { kind: 'unsupported', what: isObject(raw.grpc) ? 'grpc' : 'no handler' };
}

/** A probe with kube-apiserver's defaults for anything missing (pod-spec.ts defaults them on write too). */
export function toProbeSpec(raw: unknown): ProbeSpec | undefined {
  if (!isObject(raw)) return undefined;
  const grace = raw.terminationGracePeriodSeconds;
  return {
    action: probeAction(raw),
    initialDelaySeconds: num(raw, 'initialDelaySeconds', 0),
    periodSeconds: num(raw, 'periodSeconds', 10),
    timeoutSeconds: num(raw, 'timeoutSeconds', 1),
    successThreshold: num(raw, 'successThreshold', 1),
    failureThreshold: num(raw, 'failureThreshold', 3),
    terminationGracePeriodSeconds: typeof grace === 'number' ? grace : undefined,
  };
}

function toPorts(c: JsonObject): ContainerPortSpec[] {
  return list(c, 'ports').filter(isObject).flatMap((p) => {
    const containerPort = p.containerPort;
    if (typeof containerPort !== 'number') return [];
    const name = str(p, 'name');
    return [{ ...(name === undefined ? {} : { name }), containerPort, protocol: str(p, 'protocol') ?? 'TCP' }];
  });
}

function toSecurity(podSc: JsonObject, sc: JsonObject): ContainerSecurity {
  const pick = (key: string): number | undefined => {
    const v = sc[key] ?? podSc[key];
    return typeof v === 'number' ? v : undefined;
  };
  const caps = child(sc, 'capabilities');
  const bool = (key: string, obj: JsonObject = sc): boolean | undefined => (typeof obj[key] === 'boolean' ? obj[key] : undefined);
  const out: { -readonly [K in keyof ContainerSecurity]: ContainerSecurity[K] } = {};
  const runAsUser = pick('runAsUser');
  const runAsGroup = pick('runAsGroup');
  const runAsNonRoot = bool('runAsNonRoot') ?? bool('runAsNonRoot', podSc);
  if (runAsUser !== undefined) out.runAsUser = runAsUser;
  if (runAsGroup !== undefined) out.runAsGroup = runAsGroup;
  if (runAsNonRoot !== undefined) out.runAsNonRoot = runAsNonRoot;
  for (const key of ['privileged', 'readOnlyRootFilesystem', 'allowPrivilegeEscalation'] as const) {
    const v = bool(key);
    if (v !== undefined) out[key] = v;
  }
  if (isObject(sc.capabilities)) out.capabilities = { add: strings(caps, 'add'), drop: strings(caps, 'drop') };
  return out;
}

function toContainer(c: JsonObject, podSc: JsonObject): ContainerView {
  const workingDir = str(c, 'workingDir');
  const spec: ContainerSpec = {
    name: str(c, 'name') ?? '',
    image: str(c, 'image') ?? '',
    command: strings(c, 'command'),
    args: strings(c, 'args'),
    ...(workingDir === undefined ? {} : { workingDir }),
    ports: toPorts(c),
    security: toSecurity(podSc, child(c, 'securityContext')),
  };
  return { spec, readiness: toProbeSpec(c.readinessProbe), liveness: toProbeSpec(c.livenessProbe), startup: toProbeSpec(c.startupProbe), env: list(c, 'env').filter(isObject) };
}

function restartPolicyOf(spec: JsonObject): PodView['restartPolicy'] {
  const p = str(spec, 'restartPolicy');
  return p === 'OnFailure' || p === 'Never' ? p : 'Always';
}

/** The kubelet's view of a Pod. */
export function toPodView(pod: JsonObject): PodView {
  const m = child(pod, 'metadata');
  const spec = child(pod, 'spec');
  const podSc = child(spec, 'securityContext');
  return {
    id: { namespace: str(m, 'namespace') ?? 'default', name: str(m, 'name') ?? '', uid: str(m, 'uid') ?? '' },
    nodeName: str(spec, 'nodeName') ?? '',
    hostNetwork: spec.hostNetwork === true,
    restartPolicy: restartPolicyOf(spec),
    terminationGracePeriodSeconds: num(spec, 'terminationGracePeriodSeconds', 30),
    serviceAccountName: str(spec, 'serviceAccountName') ?? 'default',
    automountServiceAccountToken: spec.automountServiceAccountToken !== false,
    containers: list(spec, 'containers').filter(isObject).map((c) => toContainer(c, podSc)),
  };
}

/** What `valueFrom.fieldRef` may name, and the values it resolves to (downward API). */
export interface FieldValues {
  readonly pod: JsonObject;
  readonly podIp: string;
  readonly hostIp: string;
}

/** Resolves a fieldRef path as the kubelet does (podFieldSelectorRuntimeValue and ExtractFieldPathAsString). */
export function fieldRefValue(path: string, v: FieldValues): string | undefined {
  const m = child(v.pod, 'metadata');
  const spec = child(v.pod, 'spec');
  const simple: Readonly<Record<string, string | undefined>> = {
    'metadata.name': str(m, 'name'),
    'metadata.namespace': str(m, 'namespace'),
    'metadata.uid': str(m, 'uid'),
    'spec.nodeName': str(spec, 'nodeName'),
    'spec.serviceAccountName': str(spec, 'serviceAccountName'),
    'status.podIP': v.podIp,
    'status.podIPs': v.podIp,
    'status.hostIP': v.hostIp,
    'status.hostIPs': v.hostIp,
  };
  if (path in simple) return simple[path];
  const label = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (label?.[1] !== undefined && label[2] !== undefined) return str(child(m, label[1]), label[2]);
  return undefined;
}

/** Why an env var could not be resolved (the kubelet refuses to start the container: CreateContainerConfigError). */
export interface EnvError {
  readonly name: string;
  readonly message: string;
}

/**
 * The container's env in order, `value` as is (without `$(VAR)` expansion), `valueFrom.fieldRef`
 * resolved; secretKeyRef, configMapKeyRef and resourceFieldRef are not supported and are an
 * error naming the variable.
 */
export function resolveEnv(env: readonly JsonObject[], v: FieldValues): { readonly env: EnvVar[]; readonly errors: EnvError[] } {
  const out: EnvVar[] = [];
  const errors: EnvError[] = [];
  for (const e of env) {
    const name = str(e, 'name') ?? '';
    const valueFrom = child(e, 'valueFrom');
    if (!isObject(e.valueFrom)) {
      out.push({ name, value: str(e, 'value') ?? '' });
      continue;
    }
    const path = str(child(valueFrom, 'fieldRef'), 'fieldPath');
    const value = path === undefined ? undefined : fieldRefValue(path, v);
    if (value === undefined) errors.push({ name, message: path === undefined ? `env ${name}: only valueFrom.fieldRef is supported in the sandbox` : `env ${name}: unsupported fieldPath "${path}"` });
    else out.push({ name, value });
  }
  return { env: out, errors };
}
