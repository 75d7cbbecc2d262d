import { describe, expect, it } from 'vitest';
import { createFieldManager } from '../../src/sandbox/apiserver/field-manager.js';
import type { JsonObject } from '../../src/sandbox/apiserver/object.js';
import { builtInSchemas } from '../../src/sandbox/apiserver/openapi-schema.js';
import { findResource, resourceDefs, type ResourceDef } from '../../src/sandbox/apiserver/resources.js';
import { ApiStatusError } from '../../src/sandbox/apiserver/status.js';

const fields = createFieldManager({ schemas: builtInSchemas(), defs: resourceDefs });
const coreEvents = findResource(resourceDefs, '', 'v1', 'events') as ResourceDef;
const newEvents = findResource(resourceDefs, 'events.k8s.io', 'v1', 'events') as ResourceDef;
const now = new Date('2026-12-04T12:00:00Z');
const options = { fieldValidation: 'Strict' as const, fieldManager: 'ssa', force: false };

/** A core/v1 Event written by `recorder` through core/v1, as stored. */
function recorded(): JsonObject {
  const event: JsonObject = { apiVersion: 'v1', kind: 'Event', metadata: { name: 'web.1', namespace: 'default' }, involvedObject: { kind: 'Service', name: 'web' }, message: 'allocated', reason: 'IPAllocated', type: 'Normal' };
  fields.track(coreEvents, '', undefined, event, 'recorder', now);
  return event;
}

const applied = (note: string): JsonObject => ({ apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'web.1', namespace: 'default' }, note });

describe('managed fields across the versions of one storage (core/v1 and events.k8s.io/v1 Events)', () => {
  it('sees a field owned through core/v1 (message) when events.k8s.io/v1 applies it (note): a conflict', () => {
    const live = newEvents.toWire(recorded());
    let error: unknown;
    try {
      fields.apply(newEvents, '', live, applied('changed'), options, now);
    } catch (e: unknown) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiStatusError);
    expect((error as ApiStatusError).message).toBe('Apply failed with 1 conflict: conflict with "recorder" using v1: .note');
  });

  it('with force, takes the field and keeps each entry in the version it was written with', () => {
    const live = newEvents.toWire(recorded());
    const merged = fields.apply(newEvents, '', live, applied('changed'), { ...options, force: true }, now);
    expect(merged.note).toBe('changed');
    const entries = (merged.metadata as { managedFields: JsonObject[] }).managedFields;
    expect(entries.map((e) => [e.manager, e.apiVersion, Object.keys(e.fieldsV1 as JsonObject).sort()])).toEqual([
      ['recorder', 'v1', ['f:involvedObject', 'f:reason', 'f:type']],
      ['ssa', 'events.k8s.io/v1', ['f:note']],
    ]);
  });
});
