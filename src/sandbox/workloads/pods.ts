import { child, clone, isObject, list, str, type JsonObject } from '../apiserver/object.js';
import { podActive } from './scheduler.js';

/** Facts about Pods that every workload controller stand-in uses. Pure. */

/** The Pod's Ready condition is True. */
export function podReady(pod: JsonObject): boolean {
  return list(child(pod, 'status'), 'conditions').some((c) => isObject(c) && c.type === 'Ready' && c.status === 'True');
}

/**
 * Ready for at least `minReadySeconds` at `now` (podutil.IsPodAvailable): what Deployments and
 * DaemonSets count as available.
 */
export function podAvailable(pod: JsonObject, minReadySeconds: number, now: Date): boolean {
  if (!podReady(pod)) return false;
  if (minReadySeconds <= 0) return true;
  const ready = list(child(pod, 'status'), 'conditions').find((c) => isObject(c) && c.type === 'Ready');
  const since = Date.parse(isObject(ready) ? (str(ready, 'lastTransitionTime') ?? '') : '');
  return !Number.isNaN(since) && since + minReadySeconds * 1000 <= now.getTime();
}

/** Counts as a replica: active and not being deleted (controller.FilterActivePods). */
export function podCounts(pod: JsonObject): boolean {
  return podActive(pod) && str(child(pod, 'metadata'), 'deletionTimestamp') === undefined;
}

/** An ownerReference naming `owner` as controller, as the workload controllers write it. */
export function controllerRef(owner: JsonObject, kind: string): JsonObject {
  const m = child(owner, 'metadata');
  return { apiVersion: 'apps/v1', kind, name: str(m, 'name') ?? '', uid: str(m, 'uid') ?? '', controller: true, blockOwnerDeletion: true };
}

/** A new Pod from a workload's template, named `<owner>-<random>` by the API server's generateName. */
export function podFromTemplate(owner: JsonObject, kind: string, extraLabels: Readonly<Record<string, string>>): JsonObject {
  const template = child(child(owner, 'spec'), 'template');
  const tm = child(template, 'metadata');
  const m = child(owner, 'metadata');
  const metadata: JsonObject = {
    generateName: `${str(m, 'name') ?? ''}-`,
    namespace: str(m, 'namespace') ?? 'default',
    labels: { ...child(tm, 'labels'), ...extraLabels },
    ownerReferences: [controllerRef(owner, kind)],
  };
  if (isObject(tm.annotations)) metadata.annotations = clone(tm.annotations);
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec: clone(child(template, 'spec')) };
}

/** 32-bit FNV-1a of a string (the hash family pod-template-hash and controller-revision-hash use). */
export function fnv32a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

// k8s.io/apimachinery/pkg/util/rand.SafeEncodeString's alphabet: no vowels, no confusable digits.
const safeAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

/** A template's hash as the controllers label Pods with it: FNV-32a, printed in decimal, then SafeEncodeString. */
export function templateHash(template: unknown, collisionCount = 0): string {
  const digits = String(fnv32a(`${stableJson(template)}#${String(collisionCount)}`));
  return [...digits].map((d) => safeAlphabet[d.charCodeAt(0) % safeAlphabet.length]).join('');
}

/** JSON with object keys sorted, so that equal objects hash alike whatever the key order. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(value[k])}`)
      .join(',')}}`;
  }
  // JSON values only: undefined (a missing field) hashes as null.
  return value === undefined ? 'null' : JSON.stringify(value);
}
