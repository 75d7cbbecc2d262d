import { child, isObject, list, str, type JsonObject } from './object.js';

/** One `matchExpressions` entry of a metav1.LabelSelector. */
interface Expression {
  readonly key: string;
  readonly operator: string;
  readonly values: readonly string[];
}

function expressionsOf(selector: JsonObject): Expression[] {
  return list(selector, 'matchExpressions').filter(isObject).map((e) => ({
    key: str(e, 'key') ?? '',
    operator: str(e, 'operator') ?? '',
    values: list(e, 'values').filter((v): v is string => typeof v === 'string'),
  }));
}

function expressionMatches(e: Expression, labels: JsonObject): boolean {
  const value = labels[e.key];
  const has = typeof value === 'string';
  switch (e.operator) {
    case 'In':
      return has && e.values.includes(value);
    case 'NotIn':
      return !has || !e.values.includes(value);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    default:
      return false;
  }
}

/**
 * True when `labels` match a metav1.LabelSelector (matchLabels and matchExpressions ANDed). An
 * empty selector matches everything, as metav1.LabelSelectorAsSelector makes it; callers that
 * must refuse empty selectors (workload controllers) check that first.
 */
export function selectorMatches(selector: JsonObject, labels: JsonObject): boolean {
  const exact = Object.entries(child(selector, 'matchLabels')).every(([k, v]) => labels[k] === v);
  return exact && expressionsOf(selector).every((e) => expressionMatches(e, labels));
}

/** True when the selector has neither matchLabels nor matchExpressions. */
export function selectorIsEmpty(selector: JsonObject): boolean {
  return Object.keys(child(selector, 'matchLabels')).length === 0 && list(selector, 'matchExpressions').length === 0;
}

function formatExpression(e: Expression): string {
  const values = [...e.values].sort().join(',');
  switch (e.operator) {
    case 'In':
      return `${e.key} in (${values})`;
    case 'NotIn':
      return `${e.key} notin (${values})`;
    case 'Exists':
      return e.key;
    case 'DoesNotExist':
      return `!${e.key}`;
    default:
      return `${e.key} ${e.operator}`;
  }
}

/**
 * A selector as `kubectl get -o wide` and the Scale subresource print it
 * (metav1.FormatLabelSelector): sorted `k=v` terms, then expressions; `<none>` when empty.
 */
export function formatSelector(selector: JsonObject): string {
  const exact = Object.entries(child(selector, 'matchLabels')).map(([k, v]) => `${k}=${String(v)}`);
  const terms = [...exact, ...expressionsOf(selector).map(formatExpression)].sort();
  return terms.length === 0 ? '<none>' : terms.join(',');
}

/** A string map the way Go's `%#v` prints it in kube-apiserver messages: `map[string]string{"app":"web"}`. */
export function goStringMap(map: JsonObject): string {
  const pairs = Object.keys(map)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(String(map[k]))}`);
  return `map[string]string{${pairs.join(', ')}}`;
}
