import { clone, isObject, type JsonObject } from './object.js';
import type { OpenApiSchema, SchemaIndex } from './openapi-schema.js';
import {
  compare,
  decodeFieldsV1,
  difference,
  encodeFieldsV1,
  intersection,
  mergeApplied,
  pathElements,
  printPath,
  removePaths,
  toFieldSet,
  union,
  type FieldSet,
} from './field-set.js';

/** One manager's fields, as a metav1.ManagedFieldsEntry holds them. */
export interface ManagerFields {
  readonly manager: string;
  readonly operation: 'Apply' | 'Update';
  readonly apiVersion: string;
  /** '' for the main resource. */
  readonly subresource: string;
  /** RFC 3339, seconds. */
  readonly time: string;
  readonly fields: FieldSet;
}

/** What a write is about: the schema of its kind, its version and which part of the object it may touch. */
export interface FieldContext {
  readonly index: SchemaIndex;
  readonly schema: OpenApiSchema;
  readonly apiVersion: string;
  /** '' or 'status'. */
  readonly subresource: string;
  /** True when the kind has a status subresource (then the main resource does not own status, and status writes own only status). */
  readonly hasStatus: boolean;
  readonly now: Date;
}

/** One field two managers both set to different values. */
export interface FieldConflict {
  /** The other manager, printed as kube-apiserver prints it (`"kubectl-client-side-apply" using v1`). */
  readonly manager: string;
  /** `.spec.type` */
  readonly field: string;
}

/** The outcome of an apply: the new object and its managedFields, or the conflicts that refused it. */
export type ApplyResult =
  | { readonly kind: 'applied'; readonly object: JsonObject; readonly managedFields: JsonObject[] }
  | { readonly kind: 'conflicts'; readonly conflicts: readonly FieldConflict[] };

/**
 * Top-level and metadata fields no manager owns (k8s.io/apimachinery managedfields'
 * stripMeta: identity and bookkeeping the server sets).
 */
const serverOwned = new Set(['f:apiVersion', 'f:kind']);
const serverOwnedMeta = new Set([
  'f:name',
  'f:namespace',
  'f:uid',
  'f:resourceVersion',
  'f:generation',
  'f:creationTimestamp',
  'f:managedFields',
  'f:selfLink',
  'f:deletionTimestamp',
  'f:deletionGracePeriodSeconds',
]);

/** Drops the paths a write may not own: server-set metadata, and status or non-status per subresource. */
function ownable(ctx: FieldContext, set: FieldSet): Set<string> {
  return new Set(
    [...set].filter((path) => {
      const [top, second] = pathElements(path);
      if (top === undefined || serverOwned.has(top)) return false;
      if (top === 'f:metadata' && (second === undefined || serverOwnedMeta.has(second))) return false;
      if (!ctx.hasStatus) return true;
      return ctx.subresource === 'status' ? top === 'f:status' : top !== 'f:status';
    }),
  );
}

/** Reads `metadata.managedFields`; entries that are not FieldsV1 are dropped. */
export function decodeManagedFields(obj: JsonObject): ManagerFields[] {
  const m = obj.metadata;
  const entries = isObject(m) && Array.isArray(m.managedFields) ? (m.managedFields as unknown[]) : [];
  const out: ManagerFields[] = [];
  for (const e of entries) {
    if (!isObject(e) || typeof e.manager !== 'string' || (e.operation !== 'Apply' && e.operation !== 'Update')) continue;
    out.push({ manager: e.manager, operation: e.operation, apiVersion: text(e.apiVersion), subresource: text(e.subresource), time: text(e.time), fields: decodeFieldsV1(e.fieldsV1) });
  }
  return out;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The metav1.ManagedFieldsEntry list for a set of managers (empty ones dropped), oldest first. */
export function encodeManagedFields(managers: readonly ManagerFields[]): JsonObject[] {
  return managers
    .filter((m) => m.fields.size > 0)
    .map((m) => ({
      manager: m.manager,
      operation: m.operation,
      apiVersion: m.apiVersion,
      time: m.time,
      fieldsType: 'FieldsV1',
      fieldsV1: encodeFieldsV1(m.fields),
      ...(m.subresource === '' ? {} : { subresource: m.subresource }),
    }));
}

function rfc3339(now: Date): string {
  return `${now.toISOString().slice(0, 19)}Z`;
}

function sameManager(a: Pick<ManagerFields, 'manager' | 'operation' | 'subresource' | 'apiVersion'>, b: ManagerFields): boolean {
  // An Update entry is per manager, subresource and version; an Apply entry per manager and subresource.
  return a.manager === b.manager && a.operation === b.operation && a.subresource === b.subresource && (a.operation === 'Apply' || a.apiVersion === b.apiVersion);
}

/** kube-apiserver's printManager: `"name"`, `"name" with subresource "status"`, `... using v1` for Update entries. */
export function printManager(m: Pick<ManagerFields, 'manager' | 'operation' | 'subresource' | 'apiVersion'>): string {
  const name = m.subresource === '' ? JSON.stringify(m.manager) : `${JSON.stringify(m.manager)} with subresource ${JSON.stringify(m.subresource)}`;
  return m.operation === 'Update' ? `${name} using ${m.apiVersion}` : name;
}

/**
 * The managed fields after a non-apply write (create, update, patch) by `manager`: the fields it
 * added or changed become its own and are taken from every other manager; fields it removed are
 * dropped from all (structured-merge-diff's Updater.Update, always forced).
 */
export function trackUpdate(ctx: FieldContext, before: JsonObject | undefined, after: JsonObject, previous: readonly ManagerFields[], manager: string): JsonObject[] {
  const change = compare(ctx.index, ctx.schema, before ?? {}, after);
  const touched = ownable(ctx, union(change.added, change.modified));
  const removed = ownable(ctx, change.removed);
  const self = { manager, operation: 'Update' as const, subresource: ctx.subresource, apiVersion: ctx.apiVersion };
  const mine = previous.find((m) => sameManager(self, m));
  const others = previous.filter((m) => m !== mine).map((m) => ({ ...m, fields: difference(difference(m.fields, touched), removed) }));
  if (touched.size === 0 && removed.size === 0) return encodeManagedFields(previous);
  const fields = difference(union(mine?.fields ?? new Set(), touched), removed);
  return encodeManagedFields([...others, { ...self, time: rfc3339(ctx.now), fields }]);
}

/**
 * Server-side apply of `config` by `manager` (structured-merge-diff's Updater.Apply): merges
 * the configuration into the live object, removes the fields this manager applied before and no
 * longer applies (unless another manager owns them), and refuses to change a field another
 * manager owns unless `force`, in which case that manager loses it.
 */
export function applyConfig(ctx: FieldContext, live: JsonObject | undefined, config: JsonObject, previous: readonly ManagerFields[], manager: string, force: boolean): ApplyResult {
  const self = { manager, operation: 'Apply' as const, subresource: ctx.subresource, apiVersion: ctx.apiVersion };
  const mine = previous.find((m) => sameManager(self, m));
  const others = previous.filter((m) => m !== mine);
  const applied = ownable(ctx, toFieldSet(ctx.index, ctx.schema, config));
  const merged = mergeApplied(ctx.index, ctx.schema, live ?? {}, ownedPart(ctx, config)) as JsonObject;
  pruneDropped(ctx, merged, mine?.fields ?? new Set(), applied, others);
  const change = compare(ctx.index, ctx.schema, live ?? {}, merged);
  const changed = ownable(ctx, union(change.added, change.modified));
  const conflicts = others.flatMap((m) => [...intersection(m.fields, changed)].sort().map((path) => ({ manager: printManager(m), field: printPath(path) })));
  if (conflicts.length > 0 && !force) return { kind: 'conflicts', conflicts };
  const removed = ownable(ctx, change.removed);
  const rest = others.map((m) => ({ ...m, fields: difference(difference(m.fields, changed), removed) }));
  // An apply that changes neither the object nor what this manager owns keeps its entry's time (a no-op, as on kube-apiserver).
  const unchanged = mine !== undefined && mine.fields.size === applied.size && [...applied].every((p) => mine.fields.has(p));
  const managedFields = encodeManagedFields([...rest, { ...self, time: unchanged ? mine.time : rfc3339(ctx.now), fields: applied }]);
  return { kind: 'applied', object: merged, managedFields };
}

/** The part of an applied configuration the request may set: status only through the status subresource, and the reverse. */
function ownedPart(ctx: FieldContext, config: JsonObject): JsonObject {
  const out = clone(config);
  if (!ctx.hasStatus) return out;
  if (ctx.subresource === 'status') return { ...(out.status === undefined ? {} : { status: out.status }), ...(isObject(out.metadata) ? { metadata: out.metadata } : {}) };
  Reflect.deleteProperty(out, 'status');
  return out;
}

/** Removes what this manager applied last time and no longer applies, where no one else owns it or anything below it. */
function pruneDropped(ctx: FieldContext, obj: JsonObject, last: FieldSet, applied: FieldSet, others: readonly ManagerFields[]): void {
  const kept = others.reduce<Set<string>>((acc, m) => union(acc, m.fields), new Set(applied));
  const keptPaths = [...kept];
  const dropped = [...difference(last, kept)].filter((path) => !keptPaths.some((k) => k.startsWith(`${path}\u0001`)));
  removePaths(ctx.index, ctx.schema, obj, new Set(dropped));
}

/**
 * kube-apiserver's message for a refused apply (k8s.io/apimachinery managedfields conflict.go):
 * `Apply failed with 1 conflict: conflict with "x" using v1: .spec.type`, or for several, the
 * managers in name order, each followed by its fields on lines of their own.
 */
export function conflictMessage(conflicts: readonly FieldConflict[]): string {
  const [only] = conflicts;
  if (conflicts.length === 1 && only !== undefined) return `Apply failed with 1 conflict: conflict with ${only.manager}: ${only.field}`;
  const byManager = new Map<string, string[]>();
  for (const c of conflicts) byManager.set(c.manager, [...(byManager.get(c.manager) ?? []), c.field]);
  const lines = [...byManager.keys()].sort().flatMap((m) => [`conflicts with ${m}:`, ...(byManager.get(m) ?? []).map((f) => `- ${f}`)]);
  return `Apply failed with ${String(conflicts.length)} conflicts: ${lines.join('\n')}`;
}

function sameEntries(a: readonly ManagerFields[], b: readonly ManagerFields[]): boolean {
  const seconds = (time: string): number => Math.floor(Date.parse(time) / 1000);
  return (
    a.length === b.length &&
    a.every((x, i) => {
      const y = b[i];
      return y !== undefined && sameManager(x, y) && seconds(x.time) === seconds(y.time) && x.fields.size === y.fields.size && [...x.fields].every((p) => y.fields.has(p));
    })
  );
}

/**
 * Gives `next` the stored managedFields of `old` when a client sent back the same entries in
 * another spelling (client-node re-serialises `time` with milliseconds), so that a write that
 * changes nothing stays a no-op, as on kube-apiserver, which compares them decoded.
 */
export function keepEquivalentManagedFields(old: JsonObject, next: JsonObject): void {
  const m = isObject(next.metadata) ? next.metadata : undefined;
  if (m?.managedFields === undefined || !sameEntries(decodeManagedFields(old), decodeManagedFields(next))) return;
  const stored = isObject(old.metadata) ? old.metadata.managedFields : undefined;
  if (stored === undefined) Reflect.deleteProperty(m, 'managedFields');
  else m.managedFields = stored;
}
