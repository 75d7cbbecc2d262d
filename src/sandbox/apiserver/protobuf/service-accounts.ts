import { groupVersion, message, type GroupVersionSchema } from './schema.js';

/**
 * What service accounts need on the wire: core/v1 ServiceAccount (core/v1/generated.proto),
 * authentication.k8s.io/v1 TokenRequest, the body of `serviceaccounts/<name>/token`
 * (authentication/v1/generated.proto), and the rbac.authorization.k8s.io/v1 kinds
 * (rbac/v1/generated.proto) that manifests/ironlb.yaml applies.
 */
export const coreV1ServiceAccount: GroupVersionSchema = groupVersion(
  'v1',
  [
    message('core.v1.ServiceAccount', {
      metadata: [1, 'meta.v1.ObjectMeta'],
      secrets: [2, 'core.v1.ObjectReference[]'],
      imagePullSecrets: [3, 'core.v1.LocalObjectReference[]'],
      automountServiceAccountToken: [4, 'bool?'],
    }),
  ],
  [['ServiceAccount', 'core.v1.ServiceAccount']],
);

export const authenticationV1: GroupVersionSchema = groupVersion(
  'authentication.k8s.io/v1',
  [
    message('authentication.v1.TokenRequest', { metadata: [1, 'meta.v1.ObjectMeta'], spec: [2, 'authentication.v1.TokenRequestSpec'], status: [3, 'authentication.v1.TokenRequestStatus'] }),
    message('authentication.v1.TokenRequestSpec', { audiences: [1, 'string[]'], expirationSeconds: [4, 'int64?'], boundObjectRef: [3, 'authentication.v1.BoundObjectReference?'] }),
    message('authentication.v1.BoundObjectReference', { kind: [1, 'string?'], apiVersion: [2, 'string?'], name: [3, 'string?'], uid: [4, 'string?'] }),
    message('authentication.v1.TokenRequestStatus', { token: [1, 'string'], expirationTimestamp: [2, 'Time'] }),
  ],
  [],
  [['TokenRequest', 'authentication.v1.TokenRequest']],
);

export const rbacV1: GroupVersionSchema = groupVersion(
  'rbac.authorization.k8s.io/v1',
  [
    message('rbac.v1.PolicyRule', { verbs: [1, 'string[]'], apiGroups: [2, 'string[]'], resources: [3, 'string[]'], resourceNames: [4, 'string[]'], nonResourceURLs: [5, 'string[]'] }),
    message('rbac.v1.Role', { metadata: [1, 'meta.v1.ObjectMeta'], rules: [2, 'rbac.v1.PolicyRule[]'] }),
    message('rbac.v1.ClusterRole', { metadata: [1, 'meta.v1.ObjectMeta'], rules: [2, 'rbac.v1.PolicyRule[]'], aggregationRule: [3, 'rbac.v1.AggregationRule?'] }),
    message('rbac.v1.AggregationRule', { clusterRoleSelectors: [1, 'meta.v1.LabelSelector[]'] }),
    message('rbac.v1.RoleRef', { apiGroup: [1, 'string'], kind: [2, 'string'], name: [3, 'string'] }),
    message('rbac.v1.Subject', { kind: [1, 'string'], apiGroup: [2, 'string?'], name: [3, 'string'], namespace: [4, 'string?'] }),
    message('rbac.v1.RoleBinding', { metadata: [1, 'meta.v1.ObjectMeta'], subjects: [2, 'rbac.v1.Subject[]'], roleRef: [3, 'rbac.v1.RoleRef'] }),
    message('rbac.v1.ClusterRoleBinding', { metadata: [1, 'meta.v1.ObjectMeta'], subjects: [2, 'rbac.v1.Subject[]'], roleRef: [3, 'rbac.v1.RoleRef'] }),
  ],
  [
    ['Role', 'rbac.v1.Role'],
    ['ClusterRole', 'rbac.v1.ClusterRole'],
    ['RoleBinding', 'rbac.v1.RoleBinding'],
    ['ClusterRoleBinding', 'rbac.v1.ClusterRoleBinding'],
  ],
);
