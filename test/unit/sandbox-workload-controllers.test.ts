import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/sandbox/apiserver/object.js';
import { createWorkloadAdmission, workloadStorages } from '../../src/sandbox/workloads/admission.js';
import { daemonPodNode, decideDaemonSet } from '../../src/sandbox/workloads/daemonset.js';
import { decideDeployment, fenceposts, hashLabel } from '../../src/sandbox/workloads/deployment.js';
import { placementReason, tolerates } from '../../src/sandbox/workloads/placement.js';
import { templateHash } from '../../src/sandbox/workloads/pods.js';
import { decideReplicaSet } from '../../src/sandbox/workloads/replicaset.js';
import { schedulePod } from '../../src/sandbox/workloads/scheduler.js';

const now = new Date('2026-12-04T12:00:00Z');
const admission = createWorkloadAdmission();
let uidCounter = 0;

/** An object as the API server stores it: admitted, with a uid and generation. */
function stored(storage: string, obj: JsonObject): JsonObject {
  const out = admission.get(storage)?.admit(structuredClone(obj), undefined) ?? obj;
  uidCounter += 1;
  out.metadata = { namespace: 'default', uid: `uid-${String(uidCounter)}`, generation: 1, creationTimestamp: new Date(now.getTime() + uidCounter * 1000).toISOString(), ...(out.metadata as JsonObject) };
  return out;
}

const controlPlane = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' };

function node(name: string, extra: { labels?: JsonObject; taints?: JsonObject[]; unschedulable?: boolean } = {}): JsonObject {
  return { metadata: { name, labels: { 'kubernetes.io/hostname': name, ...extra.labels } }, spec: { ...(extra.taints === undefined ? {} : { taints: extra.taints }), ...(extra.unschedulable === true ? { unschedulable: true } : {}) } };
}

const nodes = [node('node-1', { labels: { 'node-role.kubernetes.io/control-plane': '' }, taints: [controlPlane] }), node('node-2'), node('node-3')];
const container = { name: 'web', image: 'nginx:1.15-alpine', ports: [{ containerPort: 80 }] };

function podSpec(extra: JsonObject = {}): JsonObject {
  return { containers: [container], ...extra };
}

function pod(name: string, owner: string, nodeName?: string, ready = false): JsonObject {
  return {
    metadata: { name, namespace: 'default', uid: `pod-${name}`, creationTimestamp: now.toISOString(), ownerReferences: [{ kind: 'ReplicaSet', name: 'x', uid: owner, controller: true }] },
    spec: { ...podSpec(), ...(nodeName === undefined ? {} : { nodeName }) },
    status: { phase: nodeName === undefined ? 'Pending' : 'Running', conditions: ready ? [{ type: 'Ready', status: 'True' }] : [] },
  };
}

describe('placement: taints, tolerations, selectors, affinity', () => {
  it.each([
    { name: 'Exists with the key', tol: { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }, want: true },
    { name: 'Exists without key tolerates everything', tol: { operator: 'Exists' }, want: true },
    { name: 'Equal needs the same value', tol: { key: 'node-role.kubernetes.io/control-plane', value: 'x' }, want: false },
    { name: 'another effect', tol: { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoExecute' }, want: false },
  ])('toleration: $name', ({ tol, want }) => {
    expect(tolerates(tol, controlPlane)).toBe(want);
  });

  it.each([
    { name: 'a plain Pod avoids the control plane', spec: podSpec(), node: nodes[0], want: 'node(s) had untolerated taint' },
    { name: 'a plain Pod fits a worker', spec: podSpec(), node: nodes[1], want: '' },
    { name: 'nodeSelector', spec: podSpec({ nodeSelector: { disk: 'ssd' } }), node: nodes[1], want: "node(s) didn't match Pod's node affinity/selector" },
    { name: 'required affinity NotIn', spec: podSpec({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'NotIn', values: ['node-2'] }] }] } } } }), node: nodes[1], want: "node(s) didn't match Pod's node affinity/selector" },
    { name: 'matchFields on the name', spec: podSpec({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-3'] }] }] } } } }), node: nodes[2], want: '' },
    { name: 'cordoned', spec: podSpec(), node: node('node-4', { unschedulable: true }), want: 'node(s) were unschedulable' },
  ])('$name', ({ spec, node: n, want }) => {
    expect(placementReason(spec, n ?? {})).toBe(want);
  });
});

describe('scheduler: spread an owner\'s Pods, say why when nothing fits', () => {
  it('binds to the node with the fewest Pods of the same owner, skipping the tainted control plane', () => {
    const existing = [pod('a', 'rs1', 'node-2'), pod('b', 'other', 'node-3'), pod('c', 'other', 'node-3')];
    expect(schedulePod(pod('new', 'rs1'), nodes, existing)).toEqual({ kind: 'bind', node: 'node-3' });
    expect(schedulePod(pod('new', 'rs2'), nodes, existing)).toEqual({ kind: 'bind', node: 'node-2' });
  });

  it('spreads three replicas over two workers 2/1, never on the control plane', () => {
    const placed: JsonObject[] = [];
    for (const name of ['p1', 'p2', 'p3']) {
      const d = schedulePod(pod(name, 'rs1'), nodes, placed);
      expect(d.kind).toBe('bind');
      if (d.kind === 'bind') placed.push(pod(name, 'rs1', d.node));
    }
    expect(placed.map((p) => (p.spec as JsonObject).nodeName).sort()).toEqual(['node-2', 'node-2', 'node-3']);
  });

  it('reports kube-scheduler\'s counts when no node fits', () => {
    const picky = { ...pod('p', 'rs1'), spec: podSpec({ nodeSelector: { disk: 'ssd' } }) };
    expect(schedulePod(picky, nodes, [])).toEqual({ kind: 'unschedulable', message: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector." });
    const hostPort = (name: string, at?: string): JsonObject => ({ ...pod(name, 'x', at), spec: { ...(at === undefined ? {} : { nodeName: at }), containers: [{ ...container, ports: [{ containerPort: 80, hostPort: 80, protocol: 'TCP' }] }] } });
    expect(schedulePod(hostPort('p'), nodes.slice(1), [hostPort('q', 'node-2'), hostPort('r', 'node-3')])).toEqual({ kind: 'unschedulable', message: "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports." });
  });
});

describe('ReplicaSet: create or delete the difference', () => {
  const rs = stored(workloadStorages.replicasets, { metadata: { name: 'web-abc' }, spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: podSpec() } } });
  const uid = (rs.metadata as { uid: string }).uid;

  it('creates the missing Pods from the template, owned by the ReplicaSet', () => {
    const d = decideReplicaSet(rs, [pod('a', uid, 'node-2', true), pod('z', 'someone-else')], now);
    expect(d.create).toHaveLength(2);
    expect(d.create[0]?.metadata).toMatchObject({ generateName: 'web-abc-', labels: { app: 'web' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'web-abc', uid, controller: true, blockOwnerDeletion: true }] });
    expect(d.status).toEqual({ replicas: 1, fullyLabeledReplicas: 1, readyReplicas: 1, availableReplicas: 1, observedGeneration: 1 });
  });

  it('deletes unscheduled, then not-ready Pods first when scaling down', () => {
    const pods = [pod('ready1', uid, 'node-2', true), pod('pending', uid), pod('ready2', uid, 'node-3', true), pod('notready', uid, 'node-2'), pod('ready3', uid, 'node-3', true)];
    expect(decideReplicaSet(rs, pods, now).delete).toEqual(['pending', 'notready']);
  });

  it('counts no Pod being deleted or finished', () => {
    const gone = { ...pod('gone', uid, 'node-2'), metadata: { ...(pod('gone', uid).metadata as JsonObject), deletionTimestamp: now.toISOString() } };
    const done = { ...pod('done', uid, 'node-2'), status: { phase: 'Succeeded' } };
    expect(decideReplicaSet(rs, [gone, done], now).create).toHaveLength(3);
  });
});

/** Applies a Deployment decision and lets every ReplicaSet reach its size with ready Pods (a perfect kubelet). */
function step(d: JsonObject, sets: JsonObject[], readyAll: boolean): JsonObject[] {
  const decision = decideDeployment(d, sets, now);
  const next = sets.map((rs): JsonObject => {
    const name = (rs.metadata as { name: string }).name;
    const replicas = decision.scale.get(name) ?? ((rs.spec as { replicas: number }).replicas);
    return { ...rs, spec: { ...(rs.spec as JsonObject), replicas } };
  });
  if (decision.createReplicaSet !== undefined) next.push(stored(workloadStorages.replicasets, decision.createReplicaSet));
  d.status = decision.status;
  return next.map((rs) => {
    const r = (rs.spec as { replicas: number }).replicas;
    return { ...rs, status: { replicas: r, readyReplicas: readyAll ? r : 0, availableReplicas: readyAll ? r : 0 } };
  });
}

describe('Deployment: ReplicaSets per template, rolling update within surge and unavailability', () => {
  const template = (image: string): JsonObject => ({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ ...container, image }] } });
  /** A template change as the API server stores it: defaulted, generation bumped. */
  const retemplate = (d: JsonObject, image: string): void => {
    const admitted = admission.get(workloadStorages.deployments)?.admit({ ...d, spec: { ...(d.spec as JsonObject), template: template(image) } }, d) ?? d;
    d.spec = admitted.spec;
    (d.metadata as JsonObject).generation = 2;
  };
  const make = (replicas: number, strategy?: JsonObject): JsonObject => stored(workloadStorages.deployments, { metadata: { name: 'web' }, spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: template('nginx:1.15-alpine'), ...(strategy === undefined ? {} : { strategy }) } });

  it('creates a ReplicaSet named by the template hash, with the hash in its selector and Pod labels, and reports progress', () => {
    const d = make(3);
    const decision = decideDeployment(d, [], now);
    const hash = templateHash((d.spec as JsonObject).template);
    expect(hash).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/);
    expect(decision.createReplicaSet?.metadata).toMatchObject({ name: `web-${hash}`, labels: { app: 'web', [hashLabel]: hash }, annotations: { 'deployment.kubernetes.io/revision': '1' } });
    expect(decision.createReplicaSet?.spec).toMatchObject({ replicas: 3, selector: { matchLabels: { app: 'web', [hashLabel]: hash } } });
    expect(decision.status.conditions).toMatchObject([{ type: 'Available', status: 'False' }, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetCreated', message: `Created new replica set "web-${hash}"` }]);
  });

  it('reaches a complete status that kubectl rollout status accepts', () => {
    const d = make(3);
    let sets = step(d, [], true);
    sets = step(d, sets, true);
    expect(d.status).toMatchObject({ observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 });
    expect((d.status as { conditions: JsonObject[] }).conditions[1]).toMatchObject({ reason: 'NewReplicaSetAvailable' });
    expect(sets).toHaveLength(1);
  });

  it.each([
    { name: 'default 25%/25% of 4', replicas: 4, strategy: undefined, surge: 1, unavailable: 1 },
    { name: 'both zero percent -> unavailable 1', replicas: 4, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '0%', maxUnavailable: '0%' } }, surge: 0, unavailable: 1 },
    { name: 'rounds surge up, unavailable down', replicas: 3, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '50%', maxUnavailable: '50%' } }, surge: 2, unavailable: 1 },
  ])('fenceposts: $name', ({ replicas, strategy, surge, unavailable }) => {
    expect(fenceposts(make(replicas, strategy).spec as JsonObject)).toEqual({ surge, unavailable });
  });

  it('rolls a new template out in steps that never exceed replicas+surge nor go below replicas-unavailable available', () => {
    const d = make(4);
    let sets = step(d, step(d, [], true), true);
    retemplate(d, 'nginx:1.16-alpine');
    for (let i = 0; i < 10; i += 1) {
      sets = step(d, sets, true);
      const total = sets.reduce((n, rs) => n + (rs.spec as { replicas: number }).replicas, 0);
      expect(total).toBeLessThanOrEqual(5);
      expect(total).toBeGreaterThanOrEqual(3);
    }
    const sizes = sets.map((rs) => [(rs.metadata as { annotations: JsonObject }).annotations['deployment.kubernetes.io/revision'], (rs.spec as { replicas: number }).replicas]);
    expect(sizes).toEqual([['1', 0], ['2', 4]]);
    expect(d.status).toMatchObject({ observedGeneration: 2, updatedReplicas: 4, availableReplicas: 4 });
  });

  it('scales the current ReplicaSet when only replicas change (kubectl scale)', () => {
    const d = make(2);
    const sets = step(d, step(d, [], true), true);
    (d.spec as JsonObject).replicas = 5;
    const decision = decideDeployment(d, sets, now);
    expect([...decision.scale]).toEqual([[(sets[0]?.metadata as { name: string }).name, 5]]);
    expect(decision.createReplicaSet).toBeUndefined();
  });

  it('Recreate scales the old ReplicaSet to zero before the new one grows', () => {
    const d = make(2, { type: 'Recreate' });
    let sets = step(d, step(d, [], true), true);
    retemplate(d, 'nginx:1.16-alpine');
    sets = step(d, sets, true);
    expect(sets.map((rs) => (rs.spec as { replicas: number }).replicas)).toEqual([0, 0]);
    sets = step(d, sets, true);
    expect(sets.map((rs) => (rs.spec as { replicas: number }).replicas)).toEqual([0, 2]);
  });
});

describe('DaemonSet: one Pod per allowed node', () => {
  const tolerating = { tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }] };
  const make = (spec: JsonObject): JsonObject => stored(workloadStorages.daemonsets, { metadata: { name: 'speaker' }, spec: { selector: { matchLabels: { app: 'speaker' } }, template: { metadata: { labels: { app: 'speaker' } }, spec: podSpec(spec) } } });

  it.each([
    { name: 'no toleration: workers only', spec: {}, want: ['node-2', 'node-3'] },
    { name: 'tolerates the control-plane taint: every node', spec: tolerating, want: ['node-1', 'node-2', 'node-3'] },
    { name: 'nodeSelector narrows', spec: { ...tolerating, nodeSelector: { 'kubernetes.io/hostname': 'node-1' } }, want: ['node-1'] },
  ])('$name', ({ spec, want }) => {
    const d = decideDaemonSet(make(spec), nodes, [], now);
    expect(d.create.map(daemonPodNode)).toEqual(want);
    expect(d.status).toMatchObject({ desiredNumberScheduled: want.length, currentNumberScheduled: 0 });
    expect((d.create[0]?.spec as { tolerations: JsonObject[] }).tolerations).toContainEqual({ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' });
  });

  it('deletes a Pod from a node it no longer fits, and a second Pod on one node', () => {
    const ds = make({});
    const uid = (ds.metadata as { uid: string }).uid;
    const mine = (name: string, at: string): JsonObject => ({ ...pod(name, uid, at, true), metadata: { ...(pod(name, uid).metadata as JsonObject), labels: { app: 'speaker', 'controller-revision-hash': templateHash((ds.spec as JsonObject).template) } } });
    const d = decideDaemonSet(ds, nodes, [mine('on-cp', 'node-1'), mine('a', 'node-2'), mine('b', 'node-2'), mine('c', 'node-3')], now);
    expect([...d.delete].sort()).toEqual(['b', 'on-cp']);
    expect(d.create).toEqual([]);
    expect(d.status).toMatchObject({ desiredNumberScheduled: 2, currentNumberScheduled: 2, numberMisscheduled: 1, numberReady: 2, numberAvailable: 2, updatedNumberScheduled: 2 });
  });

  it('replaces outdated Pods one node at a time (maxUnavailable 1)', () => {
    const ds = make({});
    const uid = (ds.metadata as { uid: string }).uid;
    const old = (name: string, at: string): JsonObject => ({ ...pod(name, uid, at, true), metadata: { ...(pod(name, uid).metadata as JsonObject), labels: { app: 'speaker', 'controller-revision-hash': 'old' } } });
    expect(decideDaemonSet(ds, nodes, [old('a', 'node-2'), old('b', 'node-3')], now).delete).toHaveLength(1);
  });
});
