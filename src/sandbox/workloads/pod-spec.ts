import { child, isObject, list, str, type JsonObject } from '../apiserver/object.js';
import type { FieldCause } from '../apiserver/status.js';

/**
 * PodSpec defaulting and validation as kube-apiserver does it (k8s.io/kubernetes
 * pkg/apis/core/v1/defaults.go and pkg/apis/core/validation), for Pods and for the pod
 * templates of Deployments, ReplicaSets and DaemonSets. Pure: objects in, causes out.
 */

/** Whether a spec belongs to a Pod (admission plugins add more) or to a template. */
export type PodSpecOwner = 'pod' | 'template';

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123LabelMessage =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const restartPolicies = ['Always', 'OnFailure', 'Never'];
const dnsPolicies = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
const protocols = ['SCTP', 'TCP', 'UDP'];

/** Supported-values text as kube-apiserver prints it: `"Always", "Never"`. */
export function supportedValues(values: readonly string[]): string {
  return values.map((v) => JSON.stringify(v)).join(', ');
}

/** The objects of a list field, each defaulted in place. */
function objects(obj: JsonObject, key: string): JsonObject[] {
  return list(obj, key).filter(isObject);
}

function setDefault(obj: JsonObject, key: string, value: unknown): void {
  if (obj[key] === undefined) obj[key] = value;
}

/**
 * `Always` for `:latest` or untagged images, else `IfNotPresent` (SetDefaults_Container). A
 * digest (`@sha256:...`) counts as a tag.
 */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const lastPart = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastPart.lastIndexOf(':');
  return colon < 0 || lastPart.slice(colon + 1) === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultProbe(probe: unknown): void {
  if (!isObject(probe)) return;
  setDefault(probe, 'timeoutSeconds', 1);
  setDefault(probe, 'periodSeconds', 10);
  setDefault(probe, 'successThreshold', 1);
  setDefault(probe, 'failureThreshold', 3);
  const http = probe.httpGet;
  if (isObject(http)) {
    setDefault(http, 'path', '/');
    setDefault(http, 'scheme', 'HTTP');
  }
}

function defaultContainer(c: JsonObject, hostNetwork: boolean): void {
  const image = str(c, 'image');
  if (image !== undefined) setDefault(c, 'imagePullPolicy', defaultPullPolicy(image));
  setDefault(c, 'terminationMessagePath', '/dev/termination-log');
  setDefault(c, 'terminationMessagePolicy', 'File');
  setDefault(c, 'resources', {});
  for (const port of objects(c, 'ports')) {
    setDefault(port, 'protocol', 'TCP');
    // With hostNetwork the container port is the host port (defaultHostNetworkPorts).
    if (hostNetwork) setDefault(port, 'hostPort', port.containerPort);
  }
  for (const key of ['livenessProbe', 'readinessProbe', 'startupProbe']) defaultProbe(c[key]);
  for (const env of objects(c, 'env')) {
    const fieldRef = child(child(env, 'valueFrom'), 'fieldRef');
    if (isObject(child(env, 'valueFrom').fieldRef)) setDefault(fieldRef, 'apiVersion', 'v1');
  }
}

/** The tolerations the DefaultTolerationSeconds admission plugin adds to every Pod. */
const defaultTolerations = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'].map((key) => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }));

function defaultPodOnly(spec: JsonObject): void {
  // ServiceAccount, Priority and DefaultTolerationSeconds admission plugins, and SetDefaults_Pod.
  setDefault(spec, 'serviceAccountName', 'default');
  setDefault(spec, 'serviceAccount', spec.serviceAccountName);
  setDefault(spec, 'priority', 0);
  setDefault(spec, 'enableServiceLinks', true);
  setDefault(spec, 'preemptionPolicy', 'PreemptLowerPriority');
  const tolerations = objects(spec, 'tolerations');
  const missing = defaultTolerations.filter((d) => !tolerations.some((t) => t.key === d.key && t.effect === 'NoExecute'));
  if (missing.length > 0) spec.tolerations = [...list(spec, 'tolerations'), ...missing];
}

/** Fills the defaults of a PodSpec in place (SetDefaults_PodSpec, _Container, _Probe...). */
export function defaultPodSpec(spec: JsonObject, owner: PodSpecOwner): void {
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'schedulerName', 'default-scheduler');
  const hostNetwork = spec.hostNetwork === true;
  for (const c of [...objects(spec, 'initContainers'), ...objects(spec, 'containers')]) defaultContainer(c, hostNetwork);
  if (owner === 'pod') defaultPodOnly(spec);
}

function checkPorts(c: JsonObject, at: string, causes: FieldCause[]): void {
  objects(c, 'ports').forEach((port, i) => {
    const p = port.containerPort;
    const field = `${at}.ports[${String(i)}]`;
    if (p === undefined) causes.push({ reason: 'FieldValueRequired', field: `${field}.containerPort`, message: 'Required value' });
    else if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) {
      causes.push({ reason: 'FieldValueInvalid', field: `${field}.containerPort`, message: `Invalid value: ${JSON.stringify(p)}: must be between 1 and 65535, inclusive` });
    }
    const protocol = str(port, 'protocol') ?? 'TCP';
    if (!protocols.includes(protocol)) causes.push({ reason: 'FieldValueNotSupported', field: `${field}.protocol`, message: `Unsupported value: "${protocol}": supported values: ${supportedValues(protocols)}` });
  });
}

function checkContainer(c: JsonObject, at: string, seen: Set<string>, causes: FieldCause[]): void {
  const name = str(c, 'name') ?? '';
  if (name === '') causes.push({ reason: 'FieldValueRequired', field: `${at}.name`, message: 'Required value' });
  else if (!dns1123Label.test(name) || name.length > 63) causes.push({ reason: 'FieldValueInvalid', field: `${at}.name`, message: `Invalid value: "${name}": ${dns1123LabelMessage}` });
  else if (seen.has(name)) causes.push({ reason: 'FieldValueDuplicate', field: `${at}.name`, message: `Duplicate value: "${name}"` });
  seen.add(name);
  if ((str(c, 'image') ?? '').trim() === '') causes.push({ reason: 'FieldValueRequired', field: `${at}.image`, message: 'Required value' });
  checkPorts(c, at, causes);
}

function checkEnum(spec: JsonObject, key: string, allowed: readonly string[], at: string, causes: FieldCause[]): void {
  const value = str(spec, key);
  if (value !== undefined && !allowed.includes(value)) {
    causes.push({ reason: 'FieldValueNotSupported', field: `${at}.${key}`, message: `Unsupported value: "${value}": supported values: ${supportedValues(allowed)}` });
  }
}

/**
 * Validates a (defaulted) PodSpec at `at` (`spec` or `spec.template.spec`), appending causes
 * with kube-apiserver's field paths and messages.
 */
export function validatePodSpec(spec: JsonObject, at: string, causes: FieldCause[]): void {
  const containers = objects(spec, 'containers');
  if (containers.length === 0) causes.push({ reason: 'FieldValueRequired', field: `${at}.containers`, message: 'Required value' });
  const seen = new Set<string>();
  objects(spec, 'initContainers').forEach((c, i) => {
    checkContainer(c, `${at}.initContainers[${String(i)}]`, seen, causes);
  });
  containers.forEach((c, i) => {
    checkContainer(c, `${at}.containers[${String(i)}]`, seen, causes);
  });
  checkEnum(spec, 'restartPolicy', restartPolicies, at, causes);
  checkEnum(spec, 'dnsPolicy', dnsPolicies, at, causes);
}
