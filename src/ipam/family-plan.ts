import { familyName, formatIp, type IpFamily } from '../ip/ip-addr.js';
import { err, ok, type Result } from '../shared/result.js';
import { allocationError, type AllocationError } from './allocation-error.js';
import type { ServiceRequest } from './service-request.js';

/** Which families a Service needs an IP of: `required` must all be given, `optional` if possible. */
export interface FamilyPlan {
  /** Primary first (status lists IPs in this order). */
  readonly required: readonly IpFamily[];
  readonly optional: readonly IpFamily[];
}

/** The families in `spec.ipFamilies`, or, when the API server gave none, those of the requested IPs, or IPv4. */
function familiesOf(req: ServiceRequest): readonly IpFamily[] {
  if (req.ipFamilies.length > 0) return req.ipFamilies;
  if (req.requestedIps.length > 0) return req.requestedIps.map((ip) => ip.family);
  return [4];
}

// The few plans there are, built once: assign() runs per reconcile and should not allocate them.
const single = { 4: { required: [4], optional: [] }, 6: { required: [6], optional: [] } } as const satisfies Record<IpFamily, FamilyPlan>;
const dual = { 4: { required: [4, 6], optional: [] }, 6: { required: [6, 4], optional: [] } } as const satisfies Record<IpFamily, FamilyPlan>;
const prefer = { 4: { required: [4], optional: [6] }, 6: { required: [6], optional: [4] } } as const satisfies Record<IpFamily, FamilyPlan>;

function plan(req: ServiceRequest): FamilyPlan {
  const families = familiesOf(req);
  const primary = families[0] ?? 4;
  switch (req.ipFamilyPolicy) {
    case 'SingleStack':
      return single[primary];
    case 'RequireDualStack':
      return dual[primary];
    case 'PreferDualStack':
      // Without ipFamilies (no API server defaulting) "prefer" means: try the other family too.
      return families[1] !== undefined || req.ipFamilies.length === 0 ? prefer[primary] : single[primary];
  }
}

/**
 * The families a Service gets IPs of, from `ipFamilyPolicy` and `ipFamilies`
 * (SingleStack: the first; RequireDualStack: both; PreferDualStack: the first, and the second
 * when possible). Requested IPs must fit: their families allowed, every required one given.
 */
export function familyPlan(req: ServiceRequest): Result<FamilyPlan, AllocationError> {
  const p = plan(req);
  if (req.requestedIps.length === 0) return ok(p);
  const allowed = [...p.required, ...p.optional];
  const stray = req.requestedIps.find((ip) => !allowed.includes(ip.family));
  if (stray !== undefined) {
    const names = allowed.map(familyName).join(' and ');
    return err(allocationError.familyMismatch(`requested IP ${formatIp(stray)} is ${familyName(stray.family)}, but the Service's ipFamilyPolicy ${req.ipFamilyPolicy} allows ${names} only`));
  }
  const missing = p.required.find((f) => !req.requestedIps.some((ip) => ip.family === f));
  if (missing !== undefined) {
    return err(allocationError.familyMismatch(`ipFamilyPolicy ${req.ipFamilyPolicy} needs an ${familyName(missing)} address, but the requested IPs give none`));
  }
  return ok({ required: allowed.filter((f) => req.requestedIps.some((ip) => ip.family === f)), optional: [] });
}
