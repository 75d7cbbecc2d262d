import { ApiStatusError } from './status.js';
import { child, isObject, pathString, type JsonObject } from './object.js';

/** One parsed requirement of a label or field selector. */
type Requirement =
  | { readonly op: 'eq' | 'neq'; readonly key: string; readonly value: string }
  | { readonly op: 'in' | 'notin'; readonly key: string; readonly values: readonly string[] }
  | { readonly op: 'exists' | 'notexists'; readonly key: string };

/** A compiled selector: true when the object matches. */
export type Selector = (obj: JsonObject) => boolean;

/** Splits on commas outside parentheses (`a in (x,y),b=c`). */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

function parseSetTerm(term: string): Requirement | undefined {
  const set = /^(\S+)\s+(in|notin)\s+\((.*)\)$/.exec(term);
  if (set === null) return undefined;
  const values = (set[3] ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '');
  return { op: set[2] === 'in' ? 'in' : 'notin', key: set[1] ?? '', values };
}

function parseTerm(term: string, kind: string): Requirement {
  const set = parseSetTerm(term);
  if (set !== undefined) return set;
  const cmp = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (cmp !== null) return { op: cmp[2] === '!=' ? 'neq' : 'eq', key: cmp[1] ?? '', value: cmp[3] ?? '' };
  if (/^![^=!\s()]+$/.test(term)) return { op: 'notexists', key: term.slice(1) };
  if (/^[^=!\s()]+$/.test(term)) return { op: 'exists', key: term };
  throw new ApiStatusError('BadRequest', `unable to parse requirement: invalid ${kind} selector: "${term}"`);
}

function matches(req: Requirement, value: string | undefined): boolean {
  switch (req.op) {
    case 'eq':
      return value === req.value;
    case 'neq':
      return value !== req.value;
    case 'in':
      return value !== undefined && req.values.includes(value);
    case 'notin':
      return value === undefined || !req.values.includes(value);
    case 'exists':
      return value !== undefined;
    case 'notexists':
      return value === undefined;
  }
}

/** Compiles a `labelSelector` (equality and set-based syntax). Throws a 400 Status when malformed. */
export function parseLabelSelector(text: string | null): Selector {
  const reqs = splitTerms(text ?? '').map((t) => parseTerm(t, 'label'));
  if (reqs.length === 0) return () => true;
  return (obj) => {
    const labels = child(child(obj, 'metadata'), 'labels');
    return reqs.every((r) => {
      const v = labels[r.key];
      return matches(r, typeof v === 'string' ? v : undefined);
    });
  };
}

/**
 * Compiles a `fieldSelector`. Any dotted path of the object is accepted (`metadata.name`,
 * `spec.type`, `involvedObject.uid`...): more lenient than kube-apiserver, which allows only
 * a few fields per resource.
 */
export function parseFieldSelector(text: string | null): Selector {
  const reqs = splitTerms(text ?? '').map((t) => parseTerm(t, 'field'));
  for (const r of reqs) {
    if (r.op !== 'eq' && r.op !== 'neq') throw new ApiStatusError('BadRequest', `field selector "${r.key}": only =, == and != are supported`);
  }
  if (reqs.length === 0) return () => true;
  return (obj) => reqs.every((r) => matches(r, isObject(obj) ? pathString(obj, r.key) : ''));
}
