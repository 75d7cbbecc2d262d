import type { FieldValidation } from './field-validation.js';
import { dropUnknownFields, fieldComplaints, strictDecodingMessage, unknownFields, type JsonKeys } from './field-validation.js';
import type { FieldSet } from './field-set.js';
import { applyConfig, conflictMessage, decodeManagedFields, encodeManagedFields, trackUpdate, type FieldContext, type ManagerFields } from './managed-fields.js';
import { isObject, jsonEqual, meta, removeKey, type JsonObject } from './object.js';
import type { SchemaIndex } from './openapi-schema.js';
import { apiVersionOf, type ResourceDef } from './resources.js';
import { ApiStatusError } from './status.js';

/** The options of a write that concern fields: kube-apiserver's CreateOptions/UpdateOptions/PatchOptions. */
export interface FieldOptions {
  readonly fieldValidation: FieldValidation;
  /** `fieldManager`, or the product part of the User-Agent when absent (kube-apiserver's default). */
  readonly fieldManager: string;
  /** `force` of an apply patch. */
  readonly force: boolean;
  /** The keys of a JSON body, for duplicate fields (absent for other encodings). */
  readonly keys?: JsonKeys;
}

/** What a write did besides storing: the `Warning` texts to send back. */
export interface FieldWarnings {
  readonly warnings: readonly string[];
}

/**
 * Field validation and managed fields for every kind that has an OpenAPI schema; kinds without
 * one are written as they come, untracked.
 */
export interface FieldManager {
  /**
   * Checks a written wire object for unknown fields: Strict refuses it (400, kube-apiserver's
   * text), Warn returns one warning per field, Ignore says nothing; unknown fields are dropped
   * either way, as decoding into Go types drops them. `patch` words the error as a patch does.
   */
  validate(def: ResourceDef, wire: JsonObject, options: Pick<FieldOptions, 'fieldValidation' | 'keys'>, verb: 'create' | 'update' | 'patch'): string[];
  /** Sets `metadata.managedFields` of `next` after a create (`old` undefined), update or patch by `manager`. */
  track(def: ResourceDef, subresource: string, old: JsonObject | undefined, next: JsonObject, manager: string, now: Date): void;
  /**
   * Server-side apply of an applied configuration (wire shape): the merged object with its
   * managed fields, or a 409 listing the conflicts in kube-apiserver's words.
   */
  apply(def: ResourceDef, subresource: string, live: JsonObject | undefined, config: JsonObject, options: FieldOptions, now: Date): JsonObject;
}

/** Builds the field manager over a schema index and the served resources. */
export function createFieldManager(deps: { readonly schemas: SchemaIndex; readonly defs: readonly ResourceDef[] }): FieldManager {
  const { schemas, defs } = deps;
  const context = (def: ResourceDef, subresource: string, now: Date): FieldContext | undefined => {
    const schema = schemas.schemaOf({ group: def.group, version: def.version, kind: def.kind });
    return schema === undefined ? undefined : { index: schemas, schema, apiVersion: apiVersionOf(def), subresource, hasStatus: def.hasStatus, now };
  };
  return {
    validate(def, wire, options, verb) {
      const ctx = context(def, '', new Date(0));
      if (ctx === undefined) return [];
      const complaints = fieldComplaints(unknownFields(schemas, ctx.schema, wire), options.keys);
      if (complaints.length === 0) return [];
      if (options.fieldValidation === 'Strict') throw strictError(def, complaints, verb);
      dropUnknownFields(schemas, ctx.schema, wire);
      return options.fieldValidation === 'Warn' ? complaints : [];
    },
    track(def, subresource, old, next, manager, now) {
      const ctx = context(def, subresource, now);
      if (ctx === undefined) return;
      const incoming = meta(next).managedFields;
      // A writer that sends managedFields different from the stored ones replaces them (kube-apiserver honours such resets).
      const base = incoming !== undefined && (old === undefined || !jsonEqual(incoming, meta(old).managedFields)) ? next : (old ?? next);
      const versions = versionsOf(defs, def);
      const previous = versions.toRequest(decodeManagedFields(base));
      setManagedFields(next, versions.toOwn(trackUpdate(ctx, old, withoutManagedFields(next), previous, manager)));
    },
    apply(def, subresource, live, config, options, now) {
      const ctx = context(def, subresource, now);
      if (ctx === undefined) throw new ApiStatusError('UnsupportedMediaType', `server-side apply is not available for ${def.plural}: the sandbox has no schema for ${def.kind}`);
      const unknown = unknownFields(schemas, ctx.schema, config);
      if (unknown.length > 0) throw typedPatchError(def, config, unknown);
      const versions = versionsOf(defs, def);
      const previous = live === undefined ? [] : versions.toRequest(decodeManagedFields(live));
      const result = applyConfig(ctx, live === undefined ? undefined : withoutManagedFields(live), withoutManagedFields(config), previous, options.fieldManager, options.force);
      if (result.kind === 'conflicts') {
        throw new ApiStatusError('Conflict', conflictMessage(result.conflicts), {
          causes: result.conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${c.manager}`, field: c.field })),
        });
      }
      setManagedFields(result.object, versions.toOwn(result.managedFields));
      return result.object;
    },
  };
}

/** Converts managers' field sets to the request's version and back. */
interface VersionConversion {
  /** Every manager's fields in the request's version, for comparing with the write. */
  toRequest(managers: readonly ManagerFields[]): ManagerFields[];
  /** Encoded entries with each manager's fields back in the version it wrote with. */
  toOwn(entries: readonly JsonObject[]): JsonObject[];
}

/**
 * How managed fields recorded through another version of the same storage (core/v1 and
 * events.k8s.io/v1 Events) are read for a request to `def`: kube-apiserver converts each
 * manager's set to the request's version before comparing (structured-merge-diff's
 * Updater with a version converter) and keeps each entry in its own version.
 */
function versionsOf(defs: readonly ResourceDef[], def: ResourceDef): VersionConversion {
  const siblings = defs.filter((d) => d.storage === def.storage);
  const renamesOf = (apiVersion: string): ReadonlyArray<readonly [string, string]> => siblings.find((d) => apiVersionOf(d) === apiVersion)?.fieldRenames ?? [];
  const convert = (fields: FieldSet, from: string, to: string): FieldSet => (from === to ? fields : renameFields(renameFields(fields, renamesOf(from).map(([a, b]) => [b, a] as const)), renamesOf(to)));
  const here = apiVersionOf(def);
  if (siblings.length < 2) return { toRequest: (managers) => [...managers], toOwn: (entries) => [...entries] };
  return {
    toRequest: (managers) => managers.map((m) => ({ ...m, fields: convert(m.fields, m.apiVersion, here) })),
    toOwn: (entries) => encodeManagedFields(decodeManagedFields({ metadata: { managedFields: [...entries] } }).map((m) => ({ ...m, fields: convert(m.fields, here, m.apiVersion) }))),
  };
}

/** Renames the first element of each path (`f:involvedObject` -> `f:regarding`). */
function renameFields(fields: FieldSet, renames: ReadonlyArray<readonly [string, string]>): FieldSet {
  if (renames.length === 0) return fields;
  const byName = new Map(renames.map(([from, to]) => [`f:${from}`, `f:${to}`]));
  return new Set(
    [...fields].map((path) => {
      const [first = '', ...rest] = path.split('\u0001');
      return [byName.get(first) ?? first, ...rest].join('\u0001');
    }),
  );
}

function withoutManagedFields(obj: JsonObject): JsonObject {
  if (!isObject(obj.metadata) || obj.metadata.managedFields === undefined) return obj;
  const m: JsonObject = { ...obj.metadata };
  removeKey(m, 'managedFields');
  return { ...obj, metadata: m };
}

function setManagedFields(obj: JsonObject, entries: readonly JsonObject[]): void {
  const m = meta(obj);
  if (entries.length === 0) removeKey(m, 'managedFields');
  else m.managedFields = entries;
}

/** `Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.foo"` */
function strictError(def: ResourceDef, complaints: readonly string[], verb: 'create' | 'update' | 'patch'): ApiStatusError {
  const text = strictDecodingMessage(complaints);
  return new ApiStatusError('BadRequest', verb === 'patch' ? text : `${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: ${text}`);
}

/** kube-apiserver's refusal of an applied configuration that does not fit the schema. */
function typedPatchError(def: ResourceDef, config: JsonObject, unknown: readonly string[]): ApiStatusError {
  const m = isObject(config.metadata) ? config.metadata : {};
  const name = `${typeof m.namespace === 'string' ? m.namespace : ''}/${typeof m.name === 'string' ? m.name : ''}`;
  const fields = unknown.map((f) => `.${f}: field not declared in schema`).join(', ');
  return new ApiStatusError('BadRequest', `failed to create typed patch object (${name}; ${apiVersionOf(def).includes('/') ? apiVersionOf(def) : `/${def.version}`}, Kind=${def.kind}): ${fields}`);
}
