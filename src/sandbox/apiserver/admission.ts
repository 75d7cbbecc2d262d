import type { JsonObject } from './object.js';

/**
 * Per-resource admission: defaulting and validation of an object before it is stored, and
 * release of what it held after it is gone (a Service's clusterIP and nodePorts). Hooks see the
 * stored shape. They throw an ApiStatusError (usually `invalid(...)`) to refuse a write.
 */
export interface Admission {
  /** Defaults and validates `obj` (create: `old` undefined). Returns the object to store. */
  admit(obj: JsonObject, old: JsonObject | undefined): JsonObject;
  /** The object was deleted: release what it held. */
  deleted(obj: JsonObject): void;
  /** The object was loaded from a snapshot at start: re-reserve what it holds. */
  restored(obj: JsonObject): void;
}

/** The verbs of Kubernetes RBAC, as the server names each request. */
export type RequestVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** Who asks for what: the attributes RBAC decides on (k8s.io/apiserver authorizer.Attributes). */
export interface RequestAttributes {
  readonly user: string;
  readonly verb: RequestVerb;
  /** '' for the core group. */
  readonly group: string;
  readonly resource: string;
  /** '' or 'status'. */
  readonly subresource: string;
  /** '' for cluster-scoped requests and for lists across all namespaces. */
  readonly namespace: string;
  /** '' for collection requests. */
  readonly name: string;
}

/** Decides whether a request is allowed; the server answers 403 Forbidden when it is not. */
export type Authorizer = (attrs: RequestAttributes) => boolean;
