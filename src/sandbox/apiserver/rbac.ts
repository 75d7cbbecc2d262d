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

function toBinding(doc: JsonObject, kind: 'RoleBinding' | 'ClusterRoleBinding'): BindingObject {
  const namespace = kind === 'RoleBinding' ? text(child(doc, 'metadata'), 'namespace') : '';
  const ref = child(doc, 'roleRef');
  const subjects = Array.isArray(doc.subjects) ? doc.subjects : [];
  const name = text(child(doc, 'metadata'), 'name');
  const roleKind = text(ref, 'kind');
  if (roleKind !== 'Role' && roleKind !== 'ClusterRole') throw new AppError('ERR_RBAC', `${kind} ${name}: roleRef.kind must be Role or ClusterRole, got "${roleKind}"`);
  if (kind === 'ClusterRoleBinding' && roleKind === 'Role') throw new AppError('ERR_RBAC', `ClusterRoleBinding ${name}: roleRef.kind Role is not allowed`);
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
    if (kind === 'RoleBinding' || kind === 'ClusterRoleBinding') bindings.push(toBinding(doc, kind));
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

/**
 * An Authorizer that evaluates RBAC objects as kube-apiserver does: a ClusterRoleBinding grants
 * its ClusterRole everywhere; a RoleBinding grants its Role, or a ClusterRole's rules, only in
 * its own namespace. Everything not granted is denied. The sandbox uses it with the objects of
 * manifests/ironlb.yaml, so the controller and speakers run with exactly the rights a real
 * cluster gives them. `extraAdmins` (the sandbox's own admin user) bypass RBAC, as members of
 * `system:masters` do on a real cluster.
 */
export function authorizerFromManifests(yamlText: string, extraAdmins: readonly string[] = []): Authorizer {
  const { roles, bindings } = parseRbac(yamlText);
  const admins = new Set(extraAdmins);
  const roleRules = (kind: 'Role' | 'ClusterRole', name: string, namespace: string): readonly PolicyRule[] =>
    roles.find((r) => r.kind === kind && r.name === name && (kind === 'ClusterRole' || r.namespace === namespace))?.rules ?? [];
  return (a) =>
    admins.has(a.user) ||
    bindings.some((b) => {
      if (!b.users.includes(a.user)) return false;
      if (b.kind === 'RoleBinding' && b.namespace !== a.namespace) return false;
      return roleRules(b.roleKind, b.roleName, b.namespace).some((rule) => ruleAllows(rule, a));
    });
}
