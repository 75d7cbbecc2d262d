import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/sandbox/apiserver/object.js';
import { ApiStatusError } from '../../src/sandbox/apiserver/status.js';
import { createWorkloadAdmission, qosClass, workloadStorages } from '../../src/sandbox/workloads/admission.js';
import { defaultPullPolicy } from '../../src/sandbox/workloads/pod-spec.js';

const admission = createWorkloadAdmission();

function admit(storage: string, obj: JsonObject, old?: JsonObject): JsonObject {
  const hooks = admission.get(storage);
  if (hooks === undefined) throw new Error(`no admission for ${storage}`);
  return hooks.admit(structuredClone(obj), old);
}

function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (e: unknown) {
    if (e instanceof ApiStatusError) return e.message;
    throw e;
  }
  return '';
}

const nginx = { name: 'nginx', image: 'nginx:1.15-alpine', ports: [{ containerPort: 80 }] };

function deployment(spec: JsonObject): JsonObject {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' }, spec };
}

const goodSpec = { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [nginx] } } };

describe('workload admission: defaulting as kube-apiserver does it', () => {
  it('defaults a Deployment: replicas, strategy 25%/25%, history, deadline, and the template', () => {
    const out = admit(workloadStorages.deployments, deployment(goodSpec));
    const spec = out.spec as JsonObject;
    expect([spec.replicas, spec.revisionHistoryLimit, spec.progressDeadlineSeconds, spec.strategy]).toEqual([1, 10, 600, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } }]);
    expect(spec.template).toEqual({
      metadata: { labels: { app: 'web' } },
      spec: {
        containers: [{ ...nginx, ports: [{ containerPort: 80, protocol: 'TCP' }], imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', resources: {} }],
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 30,
        dnsPolicy: 'ClusterFirst',
        securityContext: {},
        schedulerName: 'default-scheduler',
      },
    });
    expect(out.status).toEqual({});
  });

  it('defaults a DaemonSet update strategy and a hostNetwork template hostPort', () => {
    const ds = { metadata: { name: 'speaker' }, spec: { ...goodSpec, template: { metadata: { labels: { app: 'web' } }, spec: { hostNetwork: true, containers: [nginx] } } } };
    const spec = admit(workloadStorages.daemonsets, ds).spec as { updateStrategy: unknown; template: { spec: { containers: { ports: JsonObject[] }[] } } };
    expect(spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
    expect(spec.template.spec.containers[0]?.ports[0]).toEqual({ containerPort: 80, protocol: 'TCP', hostPort: 80 });
  });

  it('gives a Pod what the admission plugins add, probe defaults and status Pending', () => {
    const probe = { httpGet: { port: 80 } };
    const pod = admit(workloadStorages.pods, { metadata: { name: 'p' }, spec: { containers: [{ ...nginx, readinessProbe: probe }] } });
    const spec = pod.spec as JsonObject & { containers: JsonObject[] };
    expect([spec.serviceAccountName, spec.priority, spec.enableServiceLinks, (spec.tolerations as unknown[]).length]).toEqual(['default', 0, true, 2]);
    expect(spec.containers[0]?.readinessProbe).toEqual({ httpGet: { port: 80, path: '/', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
    expect(pod.status).toEqual({ phase: 'Pending', qosClass: 'BestEffort' });
  });

  it.each([
    { name: 'untagged', image: 'nginx', want: 'Always' },
    { name: 'latest', image: 'registry:5000/nginx:latest', want: 'Always' },
    { name: 'registry port is not a tag', image: 'registry:5000/nginx', want: 'Always' },
    { name: 'tagged', image: 'nginx:1.15-alpine', want: 'IfNotPresent' },
    { name: 'digest', image: 'nginx@sha256:abc', want: 'IfNotPresent' },
  ])('imagePullPolicy: $name', ({ image, want }) => {
    expect(defaultPullPolicy(image)).toBe(want);
  });

  it.each([
    { name: 'no resources', resources: {}, want: 'BestEffort' },
    { name: 'requests only', resources: { requests: { cpu: '100m' } }, want: 'Burstable' },
    { name: 'limits equal requests', resources: { limits: { cpu: '1', memory: '1Gi' } }, want: 'Guaranteed' },
  ])('QoS class: $name', ({ resources, want }) => {
    expect(qosClass({ containers: [{ name: 'a', resources }] })).toBe(want);
  });
});

describe('workload admission: validation with kube-apiserver messages', () => {
  it.each([
    { name: 'selector missing', spec: { template: goodSpec.template }, want: 'Deployment.apps "web" is invalid: [spec.selector: Required value, spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`]' },
    { name: 'selector not matching', spec: { ...goodSpec, selector: { matchLabels: { app: 'other' } } }, want: 'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`' },
    { name: 'negative replicas', spec: { ...goodSpec, replicas: -1 }, want: 'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0' },
    { name: 'no containers', spec: { ...goodSpec, template: { metadata: goodSpec.template.metadata, spec: {} } }, want: 'Deployment.apps "web" is invalid: spec.template.spec.containers: Required value' },
    { name: 'restartPolicy Never', spec: { ...goodSpec, template: { metadata: goodSpec.template.metadata, spec: { restartPolicy: 'Never', containers: [nginx] } } }, want: 'Deployment.apps "web" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"' },
    { name: 'container without image, bad port', spec: { ...goodSpec, template: { metadata: goodSpec.template.metadata, spec: { containers: [{ name: 'a', ports: [{ containerPort: 70000 }] }] } } }, want: 'Deployment.apps "web" is invalid: [spec.template.spec.containers[0].image: Required value, spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive]' },
  ])('refuses a Deployment: $name', ({ spec, want }) => {
    expect(messageOf(() => admit(workloadStorages.deployments, deployment(spec)))).toBe(want);
  });

  it('refuses a selector change on update (immutable in apps/v1)', () => {
    const first = admit(workloadStorages.deployments, deployment(goodSpec));
    const changed = { ...goodSpec, selector: { matchLabels: { app: 'web', tier: 'x' } }, template: { metadata: { labels: { app: 'web', tier: 'x' } }, spec: { containers: [nginx] } } };
    expect(messageOf(() => admit(workloadStorages.deployments, deployment(changed), first))).toBe(
      'Deployment.apps "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
    );
  });

  it('refuses duplicate container names and a Pod spec change other than the image', () => {
    expect(messageOf(() => admit(workloadStorages.pods, { metadata: { name: 'p' }, spec: { containers: [nginx, nginx] } }))).toBe('Pod "p" is invalid: spec.containers[1].name: Duplicate value: "nginx"');
    const pod = admit(workloadStorages.pods, { metadata: { name: 'p' }, spec: { containers: [nginx] } });
    const image = structuredClone(pod);
    ((image.spec as { containers: JsonObject[] }).containers[0] as JsonObject).image = 'nginx:1.16';
    expect(messageOf(() => admit(workloadStorages.pods, image, pod))).toBe('');
    const port = structuredClone(pod);
    (port.spec as JsonObject).hostNetwork = true;
    expect(messageOf(() => admit(workloadStorages.pods, port, pod))).toMatch(/^Pod "p" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`/);
  });
});
