import { describeValue, quote } from './describe-value.js';
import type { ConfigIssue } from './config.js';

/** A wire map: a plain object decoded from YAML/JSON, every value still unknown. */
export type WireMap = Readonly<Record<string, unknown>>;

/** Whether a decoded value is a plain map (not a list, not null, not a Buffer from `!!binary`). */
export function isWireMap(value: unknown): value is WireMap {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Collects issues while a parse continues, so one run reports every problem. */
export class IssueList {
  readonly items: ConfigIssue[] = [];

  add(path: string, message: string): void {
    this.items.push({ path, message });
  }
}

/** Joins a parent path and a field: `address-pools[0] "a"` + `protocol`. */
export function fieldPath(parent: string, field: string): string {
  return parent === '' ? field : `${parent}: ${field}`;
}

const normalise = (key: string): string => key.toLowerCase().replace(/[-_]/g, '');

/** `unknown key "autoAssign"`, with the known spelling when only case or dashes differ. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const near = known.find((k) => normalise(k) === normalise(key));
  const hint = near === undefined ? `; known keys: ${known.join(', ')}` : `; did you mean "${near}"?`;
  return `unknown key ${quote(key)}${hint}`;
}

/** Reads an optional boolean; YAML 1.2 reads `yes`/`no` as strings, so they are refused here. */
export function readOptionalBoolean(map: WireMap, key: string, fallback: boolean, path: string, issues: IssueList): boolean {
  const value = map[key];
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  issues.add(fieldPath(path, key), `expected true or false, got ${describeValue(value)}`);
  return fallback;
}
