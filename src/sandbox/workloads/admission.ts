import type { Admission } from '../apiserver/admission.js';
import { child, clone, isObject, jsonEqual, list, str, type JsonObject } from '../apiserver/object.js';
import { invalid, type FieldCause } from '../apiserver/status.js';
import { goStringMap, selectorIsEmpty, selectorMatches } from '../apiserver/label-selector.js';
import { defaultPodSpec, supportedValues, validatePodSpec } from './pod-spec.js';

/**
 * Admission (defaulting and validation) of core/v1 Pods and apps/v1 Deployments, ReplicaSets and
 * DaemonSets, as kube-apiserver's registry strategies, defaulters and validators do it
 * (k8s.io/kubernetes pkg/apis/apps/v1/defaults.go, pkg/apis/apps/validation, pkg/registry/...).
 * Messages and field paths are the real server's, so kubectl prints what users know.
 */

/** The storage keys of the workload resources, for the admission map. */
export const workloadStorages = { pods: '/pods', deployments: 'apps/deployments', replicasets: 'apps/replicasets', daemonsets: 'apps/daemonsets' } as const;

function setDefault(obj: JsonObject, key: string, value: unknown): void {
  if (obj[key] === undefined) obj[key] = value;
}

function nameOf(obj: JsonObject): string {
  return str(child(obj, 'metadata'), 'name') ?? '';
}

function refuse(kind: string, group: string, obj: JsonObject, causes: readonly FieldCause[]): void {
  if (causes.length > 0) throw invalid(kind, group, nameOf(obj), causes);
}

/** Requests and limits decide a Pod's QoS class (pkg/apis/core/helper/qos). */
export function qosClass(spec: JsonObject): 'BestEffort' | 'Burstable' | 'Guaranteed' {
  const containers = list(spec, 'containers').filter(isObject);
  const resources = containers.map((c) => child(c, 'resources'));
  const any = resources.some((r) => Object.keys(child(r, 'requests')).length > 0 || Object.keys(child(r, 'limits')).length > 0);
  if (!any) return 'BestEffort';
  const guaranteed = resources.every((r) => {
    const limits = child(r, 'limits');
    const requests = { ...limits, ...child(r, 'requests') };
    return ['cpu', 'memory'].every((k) => limits[k] !== undefined && requests[k] === limits[k]);
  });
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** The spec fields an update of a running Pod may change (ValidatePodUpdate). */
function mutablePodView(spec: JsonObject): JsonObject {
  const view = clone(spec);
  for (const key of ['containers', 'initContainers']) {
    view[key] = list(view, key).map((c) => (isObject(c) ? { ...c, image: '' } : c));
  }
  for (const key of ['activeDeadlineSeconds', 'tolerations', 'terminationGracePeriodSeconds']) Reflect.deleteProperty(view, key);
  return view;
}

const podUpdateMessage =
  'Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

/** core/v1 Pods: defaults from the defaulters and admission plugins, status Pending on create. */
export function createPodAdmission(): Admission {
  return {
    admit(obj, old) {
      const pod = clone(obj);
      const spec = child(pod, 'spec');
      pod.spec = spec;
      defaultPodSpec(spec, 'pod');
      const causes: FieldCause[] = [];
      validatePodSpec(spec, 'spec', causes);
      if (old === undefined) pod.status = { phase: 'Pending', qosClass: qosClass(spec) };
      else if (!jsonEqual(mutablePodView(spec), mutablePodView(child(old, 'spec')))) causes.push({ reason: 'FieldValueForbidden', field: 'spec', message: podUpdateMessage });
      refuse('Pod', '', pod, causes);
      return pod;
    },
    deleted() {},
    restored() {},
  };
}

/** What differs between the three apps/v1 kinds' admission. */
interface AppsKind {
  readonly kind: 'Deployment' | 'ReplicaSet' | 'DaemonSet';
  readonly defaults: (spec: JsonObject) => void;
  readonly hasReplicas: boolean;
}

function defaultDeploymentSpec(spec: JsonObject): void {
  setDefault(spec, 'replicas', 1);
  setDefault(spec, 'revisionHistoryLimit', 10);
  setDefault(spec, 'progressDeadlineSeconds', 600);
  const strategy = child(spec, 'strategy');
  spec.strategy = strategy;
  setDefault(strategy, 'type', 'RollingUpdate');
  if (strategy.type === 'RollingUpdate') {
    const rolling = child(strategy, 'rollingUpdate');
    strategy.rollingUpdate = rolling;
    setDefault(rolling, 'maxUnavailable', '25%');
    setDefault(rolling, 'maxSurge', '25%');
  }
}

function defaultDaemonSetSpec(spec: JsonObject): void {
  setDefault(spec, 'revisionHistoryLimit', 10);
  const strategy = child(spec, 'updateStrategy');
  spec.updateStrategy = strategy;
  setDefault(strategy, 'type', 'RollingUpdate');
  if (strategy.type === 'RollingUpdate') {
    const rolling = child(strategy, 'rollingUpdate');
    strategy.rollingUpdate = rolling;
    setDefault(rolling, 'maxUnavailable', 1);
    setDefault(rolling, 'maxSurge', 0);
  }
}

const appsKinds: Readonly<Record<AppsKind['kind'], AppsKind>> = {
  Deployment: { kind: 'Deployment', defaults: defaultDeploymentSpec, hasReplicas: true },
  ReplicaSet: { kind: 'ReplicaSet', defaults: (spec) => { setDefault(spec, 'replicas', 1); }, hasReplicas: true },
  DaemonSet: { kind: 'DaemonSet', defaults: defaultDaemonSetSpec, hasReplicas: false },
};

/** `v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:...}` as Go's %#v prints it. */
function goSelector(selector: JsonObject): string {
  const labels = child(selector, 'matchLabels');
  const matchLabels = Object.keys(labels).length === 0 ? 'map[string]string(nil)' : goStringMap(labels);
  const expressions = list(selector, 'matchExpressions').length === 0 ? '[]v1.LabelSelectorRequirement(nil)' : '[]v1.LabelSelectorRequirement{...}';
  return `v1.LabelSelector{MatchLabels:${matchLabels}, MatchExpressions:${expressions}}`;
}

function checkSelector(k: AppsKind, spec: JsonObject, causes: FieldCause[]): void {
  const selector = spec.selector;
  if (!isObject(selector)) {
    causes.push({ reason: 'FieldValueRequired', field: 'spec.selector', message: 'Required value' });
  } else if (selectorIsEmpty(selector)) {
    causes.push({ reason: 'FieldValueInvalid', field: 'spec.selector', message: `Invalid value: ${goSelector(selector)}: empty selector is invalid for ${k.kind.toLowerCase()}` });
  }
  const labels = child(child(child(spec, 'template'), 'metadata'), 'labels');
  if (!isObject(selector) || !selectorMatches(selector, labels)) {
    causes.push({ reason: 'FieldValueInvalid', field: 'spec.template.metadata.labels', message: `Invalid value: ${goStringMap(labels)}: \`selector\` does not match template \`labels\`` });
  }
}

function checkReplicas(spec: JsonObject, causes: FieldCause[]): void {
  const replicas = spec.replicas;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    causes.push({ reason: 'FieldValueInvalid', field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` });
  }
}

function checkTemplate(template: JsonObject, causes: FieldCause[]): void {
  const podSpec = child(template, 'spec');
  validatePodSpec(podSpec, 'spec.template.spec', causes);
  const policy = str(podSpec, 'restartPolicy');
  // Controllers replace Pods; only Always makes sense for them (ValidatePodTemplateSpecForReplicaSet).
  if (policy !== 'Always') causes.push({ reason: 'FieldValueNotSupported', field: 'spec.template.spec.restartPolicy', message: `Unsupported value: "${policy ?? ''}": supported values: ${supportedValues(['Always'])}` });
}

function checkImmutableSelector(spec: JsonObject, old: JsonObject | undefined, causes: FieldCause[]): void {
  if (old === undefined) return;
  const before = child(child(old, 'spec'), 'selector');
  if (!jsonEqual(spec.selector, before)) {
    causes.push({ reason: 'FieldValueInvalid', field: 'spec.selector', message: `Invalid value: ${goSelector(child(spec, 'selector'))}: field is immutable` });
  }
}

function createAppsAdmission(k: AppsKind): Admission {
  return {
    admit(obj, old) {
      const out = clone(obj);
      const spec = child(out, 'spec');
      out.spec = spec;
      k.defaults(spec);
      const template = child(spec, 'template');
      spec.template = template;
      template.spec = child(template, 'spec');
      defaultPodSpec(child(template, 'spec'), 'template');
      // Status belongs to the controller: dropped on create (the registry strategies' PrepareForCreate).
      if (old === undefined) out.status = k.kind === 'DaemonSet' ? { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 } : {};
      const causes: FieldCause[] = [];
      checkSelector(k, spec, causes);
      if (k.hasReplicas) checkReplicas(spec, causes);
      checkTemplate(template, causes);
      checkImmutableSelector(spec, old, causes);
      refuse(k.kind, 'apps', out, causes);
      return out;
    },
    deleted() {},
    restored() {},
  };
}

/** Storage key -> admission for every workload kind. */
export function createWorkloadAdmission(): Map<string, Admission> {
  return new Map<string, Admission>([
    [workloadStorages.pods, createPodAdmission()],
    [workloadStorages.deployments, createAppsAdmission(appsKinds.Deployment)],
    [workloadStorages.replicasets, createAppsAdmission(appsKinds.ReplicaSet)],
    [workloadStorages.daemonsets, createAppsAdmission(appsKinds.DaemonSet)],
  ]);
}
