import { groupVersion, message, type GroupVersionSchema } from './schema.js';

/**
 * k8s.io/apimachinery: meta/v1 (pkg/apis/meta/v1/generated.proto), runtime
 * (pkg/runtime/generated.proto). Time, MicroTime, IntOrString and Quantity are special types of the
 * codec.
 */
export const metaV1: GroupVersionSchema = groupVersion(
  'v1',
  [
    message('meta.v1.ObjectMeta', {
      name: [1, 'string'],
      generateName: [2, 'string'],
      namespace: [3, 'string'],
      selfLink: [4, 'string'],
      uid: [5, 'string'],
      resourceVersion: [6, 'string'],
      generation: [7, 'int64'],
      creationTimestamp: [8, 'Time'],
      deletionTimestamp: [9, 'Time?'],
      deletionGracePeriodSeconds: [10, 'int64?'],
      labels: [11, 'string{}'],
      annotations: [12, 'string{}'],
      ownerReferences: [13, 'meta.v1.OwnerReference[]'],
      finalizers: [14, 'string[]'],
      managedFields: [17, 'meta.v1.ManagedFieldsEntry[]'],
    }),
    message('meta.v1.ListMeta', { selfLink: [1, 'string'], resourceVersion: [2, 'string'], continue: [3, 'string'], remainingItemCount: [4, 'int64?'] }),
    message('meta.v1.OwnerReference', { apiVersion: [5, 'string'], kind: [1, 'string'], name: [3, 'string'], uid: [4, 'string'], controller: [6, 'bool?'], blockOwnerDeletion: [7, 'bool?'] }),
    message('meta.v1.ManagedFieldsEntry', {
      manager: [1, 'string'],
      operation: [2, 'string'],
      apiVersion: [3, 'string'],
      time: [4, 'Time?'],
      fieldsType: [6, 'string'],
      fieldsV1: [7, 'FieldsV1'],
      subresource: [8, 'string'],
    }),
    message('meta.v1.Condition', {
      type: [1, 'string'],
      status: [2, 'string'],
      observedGeneration: [3, 'int64'],
      lastTransitionTime: [4, 'Time'],
      reason: [5, 'string'],
      message: [6, 'string'],
    }),
    message('meta.v1.LabelSelector', { matchLabels: [1, 'string{}'], matchExpressions: [2, 'meta.v1.LabelSelectorRequirement[]'] }),
    message('meta.v1.LabelSelectorRequirement', { key: [1, 'string?'], operator: [2, 'string?'], values: [3, 'string[]'] }),
    message('meta.v1.Status', { metadata: [1, 'meta.v1.ListMeta'], status: [2, 'string'], message: [3, 'string'], reason: [4, 'string'], details: [5, 'meta.v1.StatusDetails?'], code: [6, 'int32'] }),
    message('meta.v1.StatusDetails', { name: [1, 'string'], group: [2, 'string'], kind: [3, 'string'], uid: [6, 'string'], causes: [4, 'meta.v1.StatusCause[]'], retryAfterSeconds: [5, 'int32'] }),
    message('meta.v1.StatusCause', { reason: [1, 'string'], message: [2, 'string'], field: [3, 'string'] }),
    message('meta.v1.WatchEvent', { type: [1, 'string'], object: [2, 'RawExtension'] }),
    message('meta.v1.DeleteOptions', {
      gracePeriodSeconds: [1, 'int64?'],
      preconditions: [2, 'meta.v1.Preconditions?'],
      orphanDependents: [3, 'bool?'],
      propagationPolicy: [4, 'string?'],
      dryRun: [5, 'string[]'],
      ignoreStoreReadErrorWithClusterBreakingPotential: [6, 'bool?'],
    }),
    message('meta.v1.Preconditions', { uid: [1, 'string?'], resourceVersion: [2, 'string?'] }),
    message('meta.v1.APIVersions', { versions: [1, 'string[]'], serverAddressByClientCIDRs: [2, 'meta.v1.ServerAddressByClientCIDR[]'] }),
    message('meta.v1.APIGroupList', { groups: [1, 'meta.v1.APIGroup[]'] }),
    message('meta.v1.APIGroup', {
      name: [1, 'string?'],
      versions: [2, 'meta.v1.GroupVersionForDiscovery[]'],
      preferredVersion: [3, 'meta.v1.GroupVersionForDiscovery'],
      serverAddressByClientCIDRs: [4, 'meta.v1.ServerAddressByClientCIDR[]'],
    }),
    message('meta.v1.GroupVersionForDiscovery', { groupVersion: [1, 'string?'], version: [2, 'string?'] }),
    message('meta.v1.ServerAddressByClientCIDR', { clientCIDR: [1, 'string?'], serverAddress: [2, 'string?'] }),
    message('meta.v1.APIResourceList', { groupVersion: [1, 'string?'], resources: [2, 'meta.v1.APIResource[]'] }),
    message('meta.v1.APIResource', {
      name: [1, 'string?'],
      singularName: [6, 'string?'],
      namespaced: [2, 'bool?'],
      group: [8, 'string'],
      version: [9, 'string'],
      kind: [3, 'string?'],
      verbs: [4, 'StringList'],
      shortNames: [5, 'string[]'],
      categories: [7, 'string[]'],
      storageVersionHash: [10, 'string'],
    }),
    message('runtime.TypeMeta', { apiVersion: [1, 'string'], kind: [2, 'string'] }),
    message('runtime.Unknown', { typeMeta: [1, 'runtime.TypeMeta'], raw: [2, 'bytes'], contentEncoding: [3, 'string'], contentType: [4, 'string'] }),
  ],
  [],
);

/**
 * Kinds of meta/v1 that any group-version serves (Status for errors, DeleteOptions in DELETE
 * bodies), and the discovery documents.
 */
export const metaKinds = [
  { apiVersion: 'v1', kind: 'Status', message: 'meta.v1.Status' },
  { apiVersion: 'v1', kind: 'APIVersions', message: 'meta.v1.APIVersions' },
  { apiVersion: 'v1', kind: 'APIGroupList', message: 'meta.v1.APIGroupList' },
  { apiVersion: 'v1', kind: 'APIGroup', message: 'meta.v1.APIGroup' },
  { apiVersion: 'v1', kind: 'APIResourceList', message: 'meta.v1.APIResourceList' },
  { apiVersion: 'v1', kind: 'DeleteOptions', message: 'meta.v1.DeleteOptions' },
  { apiVersion: 'meta.k8s.io/v1', kind: 'DeleteOptions', message: 'meta.v1.DeleteOptions' },
] as const;
