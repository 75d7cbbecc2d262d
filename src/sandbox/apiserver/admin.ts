import type { RequestVerb } from './admission.js';
import { failReasons, type FailureRule, type FaultSwitch, type RequestLog } from './faults.js';
import { isObject, type JsonObject } from './object.js';
import { ApiStatusError } from './status.js';

/** What the admin API reads and changes. */
export interface AdminDeps {
  readonly faults: FaultSwitch;
  readonly requests: RequestLog;
}

/** An admin API request: method, path and (for POST) the decoded JSON body. */
export interface AdminRequest {
  readonly method: string;
  readonly path: string;
  readonly body: () => Promise<unknown>;
}

/**
 * The sandbox's own admin API, for tests and `ironlb sandbox`: `GET /sandbox/v1/requests` (request
 * counts, watch events delivered and the 403s) and `POST /sandbox/v1/faults` (set latency, failures, cut watches, compact).
 * The caller has checked that the user is an administrator.
 */
export async function handleAdmin(deps: AdminDeps, req: AdminRequest): Promise<JsonObject> {
  if (req.path === '/sandbox/v1/requests' && req.method === 'GET') {
    const forbidden = deps.requests
      .entries()
      .filter((r) => r.code === 403)
      .map((r) => `${r.user} ${r.verb} ${r.resource}${r.subresource === '' ? '' : `/${r.subresource}`} ${r.namespace}`);
    return { total: deps.requests.total(), counts: Object.fromEntries(deps.requests.counts()), watchEvents: deps.requests.watchEvents(), forbidden };
  }
  if (req.path === '/sandbox/v1/faults' && req.method === 'POST') {
    applyFaultRequest(deps.faults, await req.body());
    return { latencyMs: deps.faults.latencyMs, fail: deps.faults.fail ?? null };
  }
  throw new ApiStatusError('NotFound', 'the server could not find the requested resource');
}

function applyFaultRequest(faults: FaultSwitch, body: unknown): void {
  if (!isObject(body)) throw new ApiStatusError('BadRequest', 'faults: expected a JSON object');
  if (typeof body.latencyMs === 'number') faults.latencyMs = Math.max(0, body.latencyMs);
  if (body.fail === null) faults.fail = undefined;
  else if (isObject(body.fail)) faults.fail = parseFailureRule(body.fail);
  if (body.compact === true) faults.compact();
  if (body.closeWatches === true) faults.closeWatches();
}

function parseFailureRule(fail: JsonObject): FailureRule {
  const code = fail.code;
  const rate = fail.rate ?? 1;
  if (typeof code !== 'number' || failReasons[code] === undefined) throw new ApiStatusError('BadRequest', 'faults.fail.code: must be 429, 500 or 503');
  if (typeof rate !== 'number' || rate < 0 || rate > 1) throw new ApiStatusError('BadRequest', 'faults.fail.rate: must be between 0 and 1');
  const verbs = Array.isArray(fail.verbs) ? (fail.verbs.filter((v) => typeof v === 'string') as RequestVerb[]) : undefined;
  return { code, rate, ...(verbs === undefined ? {} : { verbs }), ...(typeof fail.user === 'string' ? { user: fail.user } : {}) };
}
