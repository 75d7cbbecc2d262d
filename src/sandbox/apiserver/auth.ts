import type { IncomingMessage } from 'node:http';
import type { Authorizer, RequestAttributes } from './admission.js';
import type { ObjectLookup, ServiceAccountTokens } from './service-account-tokens.js';
import { ApiStatusError } from './status.js';

/** Who may do what: the part of the server options that authentication and authorisation read. */
export interface AuthOptions {
  /** Bearer token -> user name. */
  readonly tokens: ReadonlyMap<string, string>;
  /** Users that may use the admin API and bypass the authorizer (default `admin`). */
  readonly adminUsers?: readonly string[];
  /** Absent: every authenticated request is allowed. */
  readonly authorizer?: Authorizer;
  /** Service account tokens (TokenRequest); absent: only `tokens` authenticate. */
  readonly serviceAccountTokens?: ServiceAccountTokens;
}

/**
 * The user behind a request's bearer token: a static token, else a service account token that
 * still names existing objects; undefined when there is none or it is unknown.
 */
export async function authenticate(options: AuthOptions, req: IncomingMessage, lookup: ObjectLookup): Promise<string | undefined> {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (match === null) return undefined;
  const token = match[1] ?? '';
  return options.tokens.get(token) ?? (await options.serviceAccountTokens?.authenticate(token, lookup));
}

/** Whether a user is an administrator of the sandbox. */
export function isAdmin(options: AuthOptions, user: string): boolean {
  return (options.adminUsers ?? ['admin']).includes(user);
}

/** Throws kube-apiserver's 403 (same wording as its RBAC authorizer) when the request is not allowed. */
export function authorize(options: AuthOptions, a: RequestAttributes): void {
  if (options.authorizer === undefined || isAdmin(options, a.user) || options.authorizer(a)) return;
  const resource = a.subresource === '' ? a.resource : `${a.resource}/${a.subresource}`;
  // apierrors.NewForbidden names the GroupResource (`leases.coordination.k8s.io`, no subresource);
  // the authorizer's reason names the resource with its subresource (responsewriters.forbiddenMessage).
  const groupResource = a.group === '' ? a.resource : `${a.resource}.${a.group}`;
  const named = a.name === '' ? '' : ` "${a.name}"`;
  const where = a.namespace === '' ? 'at the cluster scope' : `in the namespace "${a.namespace}"`;
  throw new ApiStatusError('Forbidden', `${groupResource}${named} is forbidden: User "${a.user}" cannot ${a.verb} resource "${resource}" in API group "${a.group}" ${where}`);
}
