import { findResource, type ResourceDef } from './resources.js';

/** A request URL resolved against the resources this server serves. */
export type ApiPath =
  | { readonly kind: 'discovery'; readonly doc: 'version' | 'api' | 'apis' | 'core' | 'group' | 'groupVersion'; readonly group: string; readonly version: string }
  | { readonly kind: 'resource'; readonly target: ResourceTarget }
  | { readonly kind: 'unknown' };

/** One resource, collection or object (with an optional subresource). */
export interface ResourceTarget {
  readonly def: ResourceDef;
  /** '' when cluster-scoped or across all namespaces. */
  readonly namespace: string;
  /** '' for a collection. */
  readonly name: string;
  /** '', 'status' or one of the def's `subresources`. */
  readonly subresource: string;
  /** The legacy `/watch/` path prefix was used. */
  readonly watchPrefix: boolean;
}

/**
 * Resolves `/api/v1/...` and `/apis/<group>/<version>/...` like kube-apiserver's request info
 * resolver: `namespaces/<ns>/<plural>/<name>/<sub>` for namespaced resources, `<plural>/<name>/<sub>`
 * otherwise, where `namespaces/<name>/status` is the Namespace's own status subresource.
 */
export function parseApiPath(pathname: string, defs: readonly ResourceDef[]): ApiPath {
  const parts = pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  const [root, a = '', b = ''] = parts;
  if (parts.length === 1 && root === 'version') return discovery('version', '', '');
  if (root === 'api') return parts.length === 1 ? discovery('api', '', '') : resolveGroup('', a, parts.slice(2), defs);
  if (root !== 'apis') return { kind: 'unknown' };
  return resolveApis(parts.length, a, b, parts.slice(3), defs);
}

/** `/apis`, `/apis/<group>` and `/apis/<group>/<version>/...`. */
function resolveApis(length: number, group: string, version: string, rest: readonly string[], defs: readonly ResourceDef[]): ApiPath {
  if (length === 1) return discovery('apis', '', '');
  if (length > 2) return resolveGroup(group, version, rest, defs);
  return defs.some((d) => d.group === group) ? discovery('group', group, '') : { kind: 'unknown' };
}

function discovery(doc: 'version' | 'api' | 'apis' | 'core' | 'group' | 'groupVersion', group: string, version: string): ApiPath {
  return { kind: 'discovery', doc, group, version };
}

function resolveGroup(group: string, version: string, rest: readonly string[], defs: readonly ResourceDef[]): ApiPath {
  if (!defs.some((d) => d.group === group && d.version === version)) return { kind: 'unknown' };
  if (rest.length === 0) return discovery(group === '' ? 'core' : 'groupVersion', group, version);
  const watchPrefix = rest[0] === 'watch';
  const segs = watchPrefix ? rest.slice(1) : rest;
  const target = resolveSegments(group, version, segs, defs);
  return target === undefined ? { kind: 'unknown' } : { kind: 'resource', target: { ...target, watchPrefix } };
}

type Resolved = Omit<ResourceTarget, 'watchPrefix'>;

function resolveSegments(group: string, version: string, segs: readonly string[], defs: readonly ResourceDef[]): Resolved | undefined {
  if (segs.length > 5) return undefined;
  const at = (i: number): string => segs[i] ?? '';
  if (at(0) === 'namespaces' && segs.length >= 3) return resolveNamespaced(group, version, segs, defs);
  const def = findResource(defs, group, version, at(0));
  if (def === undefined || segs.length > 3) return undefined;
  return checkSub({ def, namespace: '', name: at(1), subresource: at(2) });
}

/** `namespaces/<ns>/<plural>[/<name>[/<sub>]]`, or `namespaces/<name>/status` of the Namespace itself. */
function resolveNamespaced(group: string, version: string, segs: readonly string[], defs: readonly ResourceDef[]): Resolved | undefined {
  const at = (i: number): string => segs[i] ?? '';
  const def = findResource(defs, group, version, at(2));
  if (def?.namespaced === true) return checkSub({ def, namespace: at(1), name: at(3), subresource: at(4) });
  const ns = findResource(defs, group, version, 'namespaces');
  if (ns === undefined || segs.length !== 3) return undefined;
  return checkSub({ def: ns, namespace: '', name: at(1), subresource: at(2) });
}

function checkSub(t: Resolved): Resolved | undefined {
  if (t.subresource === '') return t;
  if (t.subresource === 'status') return t.def.hasStatus ? t : undefined;
  return (t.def.subresources as readonly string[]).includes(t.subresource) ? t : undefined;
}
