import type { IncomingMessage } from 'node:http';
import type { Authorizer, RequestAttributes } from './admission.js';
import { ApiStatusError } from './status.js';

/** Who may do what: the part of the server options that authentication and authorisation read. */
export interface AuthOptions {
  /** Bearer token -> user name. */
  readonly tokens: ReadonlyMap<string, string>;
  /** Users that may use the admin API and bypass the authorizer (default `admin`). */
  readonly adminUsers?: readonly string[];
  /** Absent: every authenticated request is allowed. */
  readonly authorizer?: Authorizer;
}

/** The user behind a request's bearer token; undefined when there is none or it is unknown. */
export function authenticate(options: AuthOptions, req: IncomingMessage): string | undefined {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match === null ? undefined : options.tokens.get(match[1] ?? '');
}

/** Whether a user is an administrator of the sandbox. */
export function isAdmin(options: AuthOptions, user: string): boolean {
  return (options.adminUsers ?? ['admin']).includes(user);
}

/** Throws kube-apiserver's 403 (same wording as its RBAC authorizer) when the request is not allowed. */
export function authorize(options: AuthOptions, a: RequestAttributes): void {
  if (options.authorizer === undefined || isAdmin(options, a.user) || options.authorizer(a)) return;
  const resource = a.subresource === '' ? a.resource : `${a.resource}/${a.subresource}`;
  const named = a.name === '' ? '' : ` "${a.name}"`;
  const where = a.namespace === '' ? 'at the cluster scope' : `in the namespace "${a.namespace}"`;
  throw new ApiStatusError('Forbidden', `${resource}${named} is forbidden: User "${a.user}" cannot ${a.verb} resource "${resource}" in API group "${a.group}" ${where}`);
}
