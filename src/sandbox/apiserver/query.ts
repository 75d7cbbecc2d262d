import { ApiStatusError } from './status.js';

/**
 * Query conventions of kube-apiserver. Query parameters are converted into option structs by
 * k8s.io/apimachinery/pkg/runtime/conversion.go; parameters the options do not have are ignored.
 */

/**
 * A boolean query parameter as kube-apiserver reads it (`Convert_Slice_string_To_bool` in
 * k8s.io/apimachinery/pkg/runtime/conversion.go): absent, `0` or `false` in any case are false;
 * any other value, the empty string included, is true. So the Python client's `watch=True` watches.
 */
export function queryBool(q: URLSearchParams, name: string): boolean {
  const value = q.get(name);
  if (value === null) return false;
  return !(value === '0' || value.toLowerCase() === 'false');
}

/** Whether a write is a dry run: `dryRun=All` (validate and admit, persist nothing). */
export function isDryRun(q: URLSearchParams): boolean {
  return q.getAll('dryRun').includes('All');
}

const matchValues = ['Exact', 'NotOlderThan', ''];

/**
 * Checks `resourceVersionMatch` of a list as kube-apiserver's ValidateListOptions does
 * (k8s.io/apimachinery/pkg/apis/meta/internalversion/validation): 422 with the same field errors.
 * The store always lists its newest state, which satisfies `NotOlderThan` and, for the newest
 * resourceVersion, `Exact`.
 */
export function checkListOptions(q: URLSearchParams): void {
  const match = q.get('resourceVersionMatch') ?? '';
  if (match === '') return;
  const rv = q.get('resourceVersion') ?? '';
  const rules: ReadonlyArray<readonly [boolean, string]> = [
    [rv === '', 'Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided'],
    [(q.get('continue') ?? '') !== '', 'Forbidden: resourceVersionMatch is forbidden when continue is provided'],
    [!matchValues.includes(match), `Unsupported value: "${match}": supported values: ${matchValues.map((v) => `"${v}"`).join(', ')}`],
    [match === 'Exact' && rv === '0', 'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'],
  ];
  const errors = rules.filter(([broken]) => broken).map(([, text]) => `resourceVersionMatch: ${text}`);
  if (errors.length === 0) return;
  const summary = errors.length > 1 ? `[${errors.join(', ')}]` : (errors[0] ?? '');
  throw new ApiStatusError('Invalid', `ListOptions.meta.k8s.io "" is invalid: ${summary}`, { group: 'meta.k8s.io', kind: 'ListOptions' });
}
