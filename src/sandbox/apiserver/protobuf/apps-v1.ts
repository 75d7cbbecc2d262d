import { groupVersion, message, type GroupVersionSchema } from './schema.js';

/**
 * k8s.io/api apps/v1 (apps/v1/generated.proto, Kubernetes 1.34): Deployments, ReplicaSets and
 * DaemonSets. Their Pod templates are core/v1's (core-v1-pod.ts).
 */
export const appsV1: GroupVersionSchema = groupVersion(
  'apps/v1',
  [
    message('apps.v1.Deployment', { metadata: [1, 'meta.v1.ObjectMeta'], spec: [2, 'apps.v1.DeploymentSpec'], status: [3, 'apps.v1.DeploymentStatus'] }),
    message('apps.v1.ReplicaSet', { metadata: [1, 'meta.v1.ObjectMeta'], spec: [2, 'apps.v1.ReplicaSetSpec'], status: [3, 'apps.v1.ReplicaSetStatus'] }),
    message('apps.v1.DaemonSet', { metadata: [1, 'meta.v1.ObjectMeta'], spec: [2, 'apps.v1.DaemonSetSpec'], status: [3, 'apps.v1.DaemonSetStatus'] }),
    message('apps.v1.DeploymentSpec', {
      replicas: [1, 'int32?'],
      selector: [2, 'meta.v1.LabelSelector?'],
      template: [3, 'core.v1.PodTemplateSpec'],
      strategy: [4, 'apps.v1.DeploymentStrategy'],
      minReadySeconds: [5, 'int32'],
      revisionHistoryLimit: [6, 'int32?'],
      paused: [7, 'bool'],
      progressDeadlineSeconds: [9, 'int32?'],
    }),
    message('apps.v1.DeploymentStatus', {
      observedGeneration: [1, 'int64'],
      replicas: [2, 'int32'],
      updatedReplicas: [3, 'int32'],
      readyReplicas: [7, 'int32'],
      availableReplicas: [4, 'int32'],
      unavailableReplicas: [5, 'int32'],
      terminatingReplicas: [9, 'int32?'],
      conditions: [6, 'apps.v1.DeploymentCondition[]'],
      collisionCount: [8, 'int32?'],
    }),
    message('apps.v1.ReplicaSetSpec', { replicas: [1, 'int32?'], minReadySeconds: [4, 'int32'], selector: [2, 'meta.v1.LabelSelector?'], template: [3, 'core.v1.PodTemplateSpec'] }),
    message('apps.v1.ReplicaSetStatus', {
      replicas: [1, 'int32?'],
      fullyLabeledReplicas: [2, 'int32'],
      readyReplicas: [4, 'int32'],
      availableReplicas: [5, 'int32'],
      terminatingReplicas: [7, 'int32?'],
      observedGeneration: [3, 'int64'],
      conditions: [6, 'apps.v1.ReplicaSetCondition[]'],
    }),
    message('apps.v1.DaemonSetSpec', {
      selector: [1, 'meta.v1.LabelSelector?'],
      template: [2, 'core.v1.PodTemplateSpec'],
      updateStrategy: [3, 'apps.v1.DaemonSetUpdateStrategy'],
      minReadySeconds: [4, 'int32'],
      revisionHistoryLimit: [6, 'int32?'],
    }),
    message('apps.v1.DaemonSetStatus', {
      currentNumberScheduled: [1, 'int32?'],
      numberMisscheduled: [2, 'int32?'],
      desiredNumberScheduled: [3, 'int32?'],
      numberReady: [4, 'int32?'],
      observedGeneration: [5, 'int64'],
      updatedNumberScheduled: [6, 'int32'],
      numberAvailable: [7, 'int32'],
      numberUnavailable: [8, 'int32'],
      collisionCount: [9, 'int32?'],
      conditions: [10, 'apps.v1.DaemonSetCondition[]'],
    }),
    message('apps.v1.DeploymentStrategy', { type: [1, 'string'], rollingUpdate: [2, 'apps.v1.RollingUpdateDeployment?'] }),
    message('apps.v1.DeploymentCondition', {
      type: [1, 'string?'],
      status: [2, 'string?'],
      lastUpdateTime: [6, 'Time'],
      lastTransitionTime: [7, 'Time'],
      reason: [4, 'string'],
      message: [5, 'string'],
    }),
    message('apps.v1.ReplicaSetCondition', { type: [1, 'string?'], status: [2, 'string?'], lastTransitionTime: [3, 'Time'], reason: [4, 'string'], message: [5, 'string'] }),
    message('apps.v1.DaemonSetUpdateStrategy', { type: [1, 'string'], rollingUpdate: [2, 'apps.v1.RollingUpdateDaemonSet?'] }),
    message('apps.v1.DaemonSetCondition', { type: [1, 'string?'], status: [2, 'string?'], lastTransitionTime: [3, 'Time'], reason: [4, 'string'], message: [5, 'string'] }),
    message('apps.v1.RollingUpdateDeployment', { maxUnavailable: [1, 'IntOrString?'], maxSurge: [2, 'IntOrString?'] }),
    message('apps.v1.RollingUpdateDaemonSet', { maxUnavailable: [1, 'IntOrString?'], maxSurge: [2, 'IntOrString?'] }),
  ],
  [
    ['Deployment', 'apps.v1.Deployment'],
    ['ReplicaSet', 'apps.v1.ReplicaSet'],
    ['DaemonSet', 'apps.v1.DaemonSet'],
  ],
);
