import type { JsonObject } from './object.js';

/** The `reason` values of metav1.Status that this server returns. */
export type StatusReason =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'ServiceUnavailable'
  | 'RequestEntityTooLarge'
  | 'MethodNotAllowed'
  | 'Expired'
  | 'Gone'
  | 'TooManyRequests'
  | 'InternalError'
  | 'Timeout'
  | 'UnsupportedMediaType'
  | 'NotAcceptable';

const codes: Record<StatusReason, number> = {
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Invalid: 422,
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  ServiceUnavailable: 503,
  RequestEntityTooLarge: 413,
  MethodNotAllowed: 405,
  Expired: 410,
  Gone: 410,
  TooManyRequests: 429,
  InternalError: 500,
  Timeout: 504,
  UnsupportedMediaType: 415,
  NotAcceptable: 406,
};

/** One cause of an Invalid status: which field, and why. */
export interface FieldCause {
  readonly reason: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueDuplicate' | 'FieldValueNotSupported' | 'FieldManagerConflict';
  readonly field: string;
  readonly message: string;
}

/** Details naming the object a Status is about. */
export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly causes?: readonly FieldCause[];
}

/**
 * A failed request as the API server reports it: thrown inside the request handlers and turned
 * into a `kind: Status` body with the matching HTTP code by the router.
 */
export class ApiStatusError extends Error {
  readonly reason: StatusReason;
  readonly code: number;
  readonly details: StatusDetails | undefined;

  /** `metadata.continue` of the Status (a list whose continue token expired offers one to go on inconsistently). */
  readonly continueToken: string | undefined;

  constructor(reason: StatusReason, message: string, details?: StatusDetails, continueToken?: string) {
    super(message);
    this.name = 'ApiStatusError';
    this.reason = reason;
    this.code = codes[reason];
    this.details = details;
    this.continueToken = continueToken;
  }

  /** The metav1.Status body, shaped like kube-apiserver's. */
  toStatus(): JsonObject {
    const body = statusBody(this.reason, this.message, this.details);
    if (this.continueToken !== undefined) body.metadata = { continue: this.continueToken };
    return body;
  }
}

/** A metav1.Status body. */
export function statusBody(reason: StatusReason, message: string, details?: StatusDetails): JsonObject {
  const body: JsonObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code: codes[reason] };
  if (details !== undefined) body.details = { ...details, ...(details.kind === undefined ? {} : { kind: details.kind }) };
  return body;
}

/** The `Success` Status that a delete of a whole collection or some subresources returns. */
export function successStatus(details?: StatusDetails): JsonObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', ...(details === undefined ? {} : { details }) };
}

/** `services "x" not found` */
export function notFound(plural: string, group: string, name: string): ApiStatusError {
  return new ApiStatusError('NotFound', `${groupResource(plural, group)} "${name}" not found`, { name, group, kind: plural });
}

/** `services "x" already exists` */
export function alreadyExists(plural: string, group: string, name: string): ApiStatusError {
  return new ApiStatusError('AlreadyExists', `${groupResource(plural, group)} "${name}" already exists`, { name, group, kind: plural });
}

/** The optimistic-concurrency failure kubectl and client-go recognise. */
export function conflict(plural: string, group: string, name: string): ApiStatusError {
  return new ApiStatusError(
    'Conflict',
    `Operation cannot be fulfilled on ${groupResource(plural, group)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group, kind: plural },
  );
}

/** `Service "x" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535` */
export function invalid(kind: string, group: string, name: string, causes: readonly FieldCause[]): ApiStatusError {
  const text = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  const summary = causes.length > 1 ? `[${text}]` : text;
  // kube-apiserver names the kind with its group: `Deployment.apps "web" is invalid`.
  const qualified = group === '' ? kind : `${kind}.${group}`;
  return new ApiStatusError('Invalid', `${qualified} "${name}" is invalid: ${summary}`, { name, group, kind, causes });
}

function groupResource(plural: string, group: string): string {
  return group === '' ? plural : `${plural}.${group}`;
}
