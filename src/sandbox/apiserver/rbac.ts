import { parseAllDocuments } from 'yaml';
import { AppError } from '../../shared/errors.js';
import type { Authorizer, RequestAttributes } from './admission.js';
import { isObject, type JsonObject } from './object.js';

/** One rule of a Role or ClusterRole (rbac.authorization.k8s.io/v1 PolicyRule). */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames: readonly string[];
}

/** A Role or ClusterRole with its rules. */
export interface RoleObject {
  readonly kind: 'Role' | 'ClusterRole';
  /** '' for a ClusterRole. */
  readonly namespace: string;
  readonly name: string;
  readonly rules: readonly PolicyRule[];
}

/** A RoleBinding or ClusterRoleBinding, its subjects resolved to user names. */
export interface BindingObject {
  readonly kind: 'RoleBinding' | 'ClusterRoleBinding';
  /** '' for a ClusterRoleBinding. */
  readonly namespace: string;
  readonly roleKind: 'Role' | 'ClusterRole';
  readonly roleName: string;
  /** User names the binding covers (ServiceAccounts as `system:serviceaccount:NS:NAME`). */
  readonly users: readonly string[];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function text(obj: JsonObject, key: string): string {
  const v = obj[key];
  return typeof v === 'string' ? v : '';
}

function child(obj: JsonObject, key: string): JsonObject {
  const v = obj[key];
  return isObject(v) ? v : {};
}

function toRule(raw: unknown): PolicyRule {
  const r = isObject(raw) ? raw : {};
  return { apiGroups: strings(r.apiGroups), resources: strings(r.resources), verbs: strings(r.verbs), resourceNames: strings(r.resourceNames) };
}

function subjectUser(raw: unknown, bindingNamespace: string): string | undefined {
  if (!isObject(raw)) return undefined;
  const kind = text(raw, 'kind');
  if (kind === 'ServiceAccount') return `system:serviceaccount:${text(raw, 'namespace') || bindingNamespace}:${text(raw, 'name')}`;
  return kind === 'User' ? text(raw, 'name') : undefined;
}

/** A binding, or why it is not one (kube-apiserver's ValidateRoleBinding refuses such objects). */
function toBinding(doc: JsonObject, kind: 'RoleBinding' | 'ClusterRoleBinding'): BindingObject | string {
  const namespace = kind === 'RoleBinding' ? text(child(doc, 'metadata'), 'namespace') : '';
  const ref = child(doc, 'roleRef');
  const subjects = Array.isArray(doc.subjects) ? doc.subjects : [];
  const name = text(child(doc, 'metadata'), 'name');
  const roleKind = text(ref, 'kind');
  if (roleKind !== 'Role' && roleKind !== 'ClusterRole') return `${kind} ${name}: roleRef.kind must be Role or ClusterRole, got "${roleKind}"`;
  if (kind === 'ClusterRoleBinding' && roleKind === 'Role') return `ClusterRoleBinding ${name}: roleRef.kind Role is not allowed`;
  const users = subjects.map((s) => subjectUser(s, namespace)).filter((u): u is string => u !== undefined);
  return { kind, namespace, roleKind, roleName: text(ref, 'name'), users };
}

function toRole(doc: JsonObject, kind: 'Role' | 'ClusterRole'): RoleObject {
  const namespace = kind === 'Role' ? text(child(doc, 'metadata'), 'namespace') : '';
  return { kind, namespace, name: text(child(doc, 'metadata'), 'name'), rules: (Array.isArray(doc.rules) ? doc.rules : []).map(toRule) };
}

/** The RBAC objects of a multi-document YAML text; other kinds are ignored. */
export function parseRbac(yamlText: string): { readonly roles: readonly RoleObject[]; readonly bindings: readonly BindingObject[] } {
  const roles: RoleObject[] = [];
  const bindings: BindingObject[] = [];
  for (const d of parseAllDocuments(yamlText)) {
    const firstError = d.errors[0];
    if (firstError !== undefined) throw new AppError('ERR_RBAC', `RBAC manifests: ${firstError.message}`);
    const doc: unknown = d.toJS();
    if (!isObject(doc) || text(doc, 'apiVersion') !== 'rbac.authorization.k8s.io/v1') continue;
    const kind = text(doc, 'kind');
    if (kind === 'Role' || kind === 'ClusterRole') roles.push(toRole(doc, kind));
    if (kind === 'RoleBinding' || kind === 'ClusterRoleBinding') {
      const binding = toBinding(doc, kind);
      if (typeof binding === 'string') throw new AppError('ERR_RBAC', binding);
      bindings.push(binding);
    }
  }
  return { roles, bindings };
}

function matchesAny(list: readonly string[], value: string): boolean {
  return list.includes('*') || list.includes(value);
}

function resourceMatches(rule: PolicyRule, a: RequestAttributes): boolean {
  const full = a.subresource === '' ? a.resource : `${a.resource}/${a.subresource}`;
  return rule.resources.some((r) => r === '*' || r === full || (a.subresource !== '' && r === `*/${a.subresource}`));
}

/** RBAC's rule match (k8s.io/kubernetes/pkg/apis/rbac/v1 helpers): verb, group, resource, name. */
export function ruleAllows(rule: PolicyRule, a: RequestAttributes): boolean {
  if (!matchesAny(rule.verbs, a.verb) || !matchesAny(rule.apiGroups, a.group) || !resourceMatches(rule, a)) return false;
  return rule.resourceNames.length === 0 || (a.name !== '' && rule.resourceNames.includes(a.name));
}

/** The RBAC objects, as roles and bindings. */
interface RbacObjects {
  readonly roles: readonly RoleObject[];
  readonly bindings: readonly BindingObject[];
}

/**
 * RBAC's decision as kube-apiserver makes it: a ClusterRoleBinding grants its ClusterRole
 * everywhere; a RoleBinding grants its Role, or a ClusterRole's rules, only in its own namespace.
 * Everything not granted is denied.
 */
function rbacAllows({ roles, bindings }: RbacObjects, a: RequestAttributes): boolean {
  const roleRules = (kind: 'Role' | 'ClusterRole', name: string, namespace: string): readonly PolicyRule[] =>
    roles.find((r) => r.kind === kind && r.name === name && (kind === 'ClusterRole' || r.namespace === namespace))?.rules ?? [];
  return bindings.some((b) => {
    if (!b.users.includes(a.user)) return false;
    if (b.kind === 'RoleBinding' && b.namespace !== a.namespace) return false;
    return roleRules(b.roleKind, b.roleName, b.namespace).some((rule) => ruleAllows(rule, a));
  });
}

/**
 * An Authorizer over the RBAC objects of a YAML text (manifests/ironlb.yaml), for tests and tools
 * that run ironlb against a server without those objects applied. `extraAdmins` bypass RBAC, as
 * members of `system:masters` do on a real cluster.
 */
export function authorizerFromManifests(yamlText: string, extraAdmins: readonly string[] = []): Authorizer {
  const objects = parseRbac(yamlText);
  const admins = new Set(extraAdmins);
  return (a) => admins.has(a.user) || rbacAllows(objects, a);
}

/** The storage keys of the rbac.authorization.k8s.io/v1 kinds (resources.ts). */
const rbacStorages = {
  roles: 'rbac.authorization.k8s.io/roles',
  clusterRoles: 'rbac.authorization.k8s.io/clusterroles',
  roleBindings: 'rbac.authorization.k8s.io/rolebindings',
  clusterRoleBindings: 'rbac.authorization.k8s.io/clusterrolebindings',
} as const;

/**
 * An Authorizer over the Roles, ClusterRoles and bindings stored in the API server itself, read at
 * every request, so `kubectl apply -f manifests/` grants the service accounts their rights the
 * way it does on a cluster, and deleting a binding takes them away at once. A binding with an
 * invalid roleRef grants nothing.
 */
export function authorizerFromStore(objects: (storage: string) => readonly JsonObject[]): Authorizer {
  return (a) => {
    const roles = [...objects(rbacStorages.roles).map((d) => toRole(d, 'Role')), ...objects(rbacStorages.clusterRoles).map((d) => toRole(d, 'ClusterRole'))];
    const bindings = [
      ...objects(rbacStorages.roleBindings).map((d) => toBinding(d, 'RoleBinding')),
      ...objects(rbacStorages.clusterRoleBindings).map((d) => toBinding(d, 'ClusterRoleBinding')),
    ].filter((b): b is BindingObject => typeof b !== 'string');
    return rbacAllows({ roles, bindings }, a);
  };
}
