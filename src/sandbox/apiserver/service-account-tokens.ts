import { randomUUID } from 'node:crypto';
import { generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { child, isObject, meta, str, type JsonObject } from './object.js';
import { ApiStatusError, invalid, notFound } from './status.js';

/**
 * Service account tokens as kube-apiserver issues and checks them (KEP-1205 bound tokens,
 * k8s.io/kubernetes pkg/serviceaccount/claims.go and pkg/registry/core/serviceaccount/storage/token.go):
 * a JWT signed by the server's own key, `sub` `system:serviceaccount:<ns>:<name>`, the API
 * audience, and the private claim `kubernetes.io` naming the ServiceAccount and, when bound, the
 * Pod, each with its uid. A token authenticates only while both objects still exist with those
 * uids, so deleting the Pod or the ServiceAccount revokes it.
 */

/** kube-apiserver's issuer and API audience as kubeadm configures them (`--service-account-issuer`). */
export const serviceAccountIssuer = 'https://kubernetes.default.svc.cluster.local';

/** TokenRequest defaults and bounds (pkg/apis/authentication/v1 defaults.go, validation.go). */
const defaultExpirationSeconds = 3600;
const minExpirationSeconds = 600;
const maxExpirationSeconds = 2 ** 32;
/**
 * The kubelet asks for 3607 s; kube-apiserver then signs the token for a year but reports 3607 s,
 * so old clients that never re-read their token keep working (`--service-account-extend-token-expiration`,
 * token.WarnOnlyBoundTokenExpirationSeconds and ExpirationExtensionSeconds).
 */
const kubeletExpirationSeconds = 3607;
const extendedExpirationSeconds = 365 * 24 * 3600;

/** Reads the objects a token names; the server passes its store. */
export type ObjectLookup = (storage: '/serviceaccounts' | '/pods', namespace: string, name: string) => JsonObject | undefined;

/** Issues and verifies the tokens of one API server run. */
export interface ServiceAccountTokens {
  /**
   * POST serviceaccounts/<name>/token: a TokenRequest answered with its status (token and
   * expirationTimestamp), or the API error kube-apiserver gives for it.
   */
  issue(namespace: string, name: string, body: unknown, lookup: ObjectLookup): Promise<JsonObject>;
  /** The user a token authenticates as (`system:serviceaccount:<ns>:<name>`), or undefined. */
  authenticate(token: string, lookup: ObjectLookup): Promise<string | undefined>;
}

/** The `kubernetes.io` private claim. */
interface KubernetesClaim {
  readonly namespace: string;
  readonly serviceaccount: { readonly name: string; readonly uid: string };
  readonly pod?: { readonly name: string; readonly uid: string };
  readonly warnafter?: number;
}

/** The user name of a service account (k8s.io/apiserver/pkg/authentication/serviceaccount MakeUsername). */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

function uidOf(obj: JsonObject): string {
  return str(meta(obj), 'uid') ?? '';
}

function expirationOf(spec: JsonObject, name: string): number {
  const requested = spec.expirationSeconds ?? defaultExpirationSeconds;
  if (typeof requested !== 'number' || !Number.isInteger(requested)) {
    throw invalid('TokenRequest', 'authentication.k8s.io', name, [{ reason: 'FieldValueInvalid', field: 'spec.expirationSeconds', message: `Invalid value: ${JSON.stringify(requested)}: must be an integer` }]);
  }
  const tooShort = requested < minExpirationSeconds ? 'may not specify a duration less than 10 minutes' : undefined;
  const problem = tooShort ?? (requested > maxExpirationSeconds ? 'may not specify a duration larger than 2^32 seconds' : undefined);
  if (problem !== undefined) throw invalid('TokenRequest', 'authentication.k8s.io', name, [{ reason: 'FieldValueInvalid', field: 'spec.expirationSeconds', message: `Invalid value: ${String(requested)}: ${problem}` }]);
  return requested;
}

/** The Pod a TokenRequest binds its token to, checked as token.go does; undefined when unbound. */
function boundPod(spec: JsonObject, namespace: string, lookup: ObjectLookup): JsonObject | undefined {
  if (!isObject(spec.boundObjectRef)) return undefined;
  const ref = spec.boundObjectRef;
  const kind = str(ref, 'kind') ?? '';
  if (kind !== 'Pod') throw new ApiStatusError('BadRequest', `cannot bind token to object of type ${kind}: the sandbox binds tokens to Pods only`);
  const name = str(ref, 'name') ?? '';
  const pod = lookup('/pods', namespace, name);
  if (pod === undefined) throw notFound('pods', '', name);
  const uid = str(ref, 'uid');
  if (uid !== undefined && uid !== '' && uid !== uidOf(pod)) {
    throw new ApiStatusError('Conflict', `the UID in the bound object reference (${uid}) does not match the UID in record. The object might have been deleted and then recreated`);
  }
  return pod;
}

function audiencesOf(spec: JsonObject): string[] {
  const given = Array.isArray(spec.audiences) ? spec.audiences.filter((a): a is string => typeof a === 'string') : [];
  return given.length > 0 ? given : [serviceAccountIssuer];
}

function kubernetesClaim(payload: JWTPayload): KubernetesClaim | undefined {
  const claim = payload['kubernetes.io'];
  if (!isObject(claim) || !isObject(claim.serviceaccount)) return undefined;
  const namespace = str(claim, 'namespace');
  const sa = claim.serviceaccount;
  const pod = isObject(claim.pod) ? { name: str(claim.pod, 'name') ?? '', uid: str(claim.pod, 'uid') ?? '' } : undefined;
  if (namespace === undefined) return undefined;
  return { namespace, serviceaccount: { name: str(sa, 'name') ?? '', uid: str(sa, 'uid') ?? '' }, ...(pod === undefined ? {} : { pod }) };
}

/** Whether the objects a token names still exist with the uids it was issued for (claims.go Validate). */
function stillValid(claim: KubernetesClaim, lookup: ObjectLookup): boolean {
  const sa = lookup('/serviceaccounts', claim.namespace, claim.serviceaccount.name);
  if (sa === undefined || uidOf(sa) !== claim.serviceaccount.uid) return false;
  if (claim.pod === undefined) return true;
  const pod = lookup('/pods', claim.namespace, claim.pod.name);
  return pod !== undefined && uidOf(pod) === claim.pod.uid;
}

/** What a TokenRequest asks for, checked and defaulted. */
interface Grant {
  readonly expirationSeconds: number;
  readonly audiences: readonly string[];
  readonly pod: JsonObject | undefined;
  /** Signed for a year, reported as asked (the kubelet's 3607 s, bound to a Pod, for the API audience). */
  readonly extend: boolean;
}

function grantOf(spec: JsonObject, name: string, namespace: string, lookup: ObjectLookup): Grant {
  const expirationSeconds = expirationOf(spec, name);
  const pod = boundPod(spec, namespace, lookup);
  const audiences = audiencesOf(spec);
  const extend = pod !== undefined && expirationSeconds === kubeletExpirationSeconds && audiences.includes(serviceAccountIssuer);
  return { expirationSeconds, audiences, pod, extend };
}

function claimOf(namespace: string, name: string, sa: JsonObject, grant: Grant, issuedAt: number): KubernetesClaim {
  const pod = grant.pod === undefined ? {} : { pod: { name: str(meta(grant.pod), 'name') ?? '', uid: uidOf(grant.pod) } };
  return { namespace, serviceaccount: { name, uid: uidOf(sa) }, ...pod, ...(grant.extend ? { warnafter: issuedAt + grant.expirationSeconds } : {}) };
}

function rfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The TokenRequest kube-apiserver answers with: the spec as defaulted, the token and its reported expiry. */
function tokenRequestReply(namespace: string, name: string, grant: Grant, claim: KubernetesClaim, token: string, issuedAt: number): JsonObject {
  const boundObjectRef = claim.pod === undefined ? {} : { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: claim.pod.name, uid: claim.pod.uid } };
  return {
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { name, namespace, creationTimestamp: rfc3339(issuedAt) },
    spec: { audiences: grant.audiences, expirationSeconds: grant.expirationSeconds, ...boundObjectRef },
    status: { token, expirationTimestamp: rfc3339(issuedAt + grant.expirationSeconds) },
  };
}

/** A token issuer with a fresh ES256 key (kube-apiserver accepts ES256 service account keys). */
export async function createServiceAccountTokens(deps: { readonly now: () => Date }): Promise<ServiceAccountTokens> {
  const { privateKey, publicKey }: { privateKey: CryptoKey; publicKey: CryptoKey } = await generateKeyPair('ES256');
  return {
    async issue(namespace, name, body, lookup) {
      const sa = lookup('/serviceaccounts', namespace, name);
      if (sa === undefined) throw notFound('serviceaccounts', '', name);
      const spec = isObject(body) ? { ...child(body, 'spec') } : {};
      const grant = grantOf(spec, name, namespace, lookup);
      const issuedAt = Math.floor(deps.now().getTime() / 1000);
      const claim = claimOf(namespace, name, sa, grant, issuedAt);
      const lifetime = grant.extend ? extendedExpirationSeconds : grant.expirationSeconds;
      const token = await new SignJWT({ 'kubernetes.io': claim })
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer(serviceAccountIssuer)
        .setSubject(serviceAccountUser(namespace, name))
        .setAudience([...grant.audiences])
        .setIssuedAt(issuedAt)
        .setNotBefore(issuedAt)
        .setExpirationTime(issuedAt + lifetime)
        .setJti(randomUUID())
        .sign(privateKey);
      return tokenRequestReply(namespace, name, grant, claim, token, issuedAt);
    },
    async authenticate(token, lookup) {
      try {
        const { payload } = await jwtVerify(token, publicKey, { issuer: serviceAccountIssuer, audience: serviceAccountIssuer, currentDate: deps.now(), algorithms: ['ES256'] });
        const claim = kubernetesClaim(payload);
        if (claim === undefined || payload.sub !== serviceAccountUser(claim.namespace, claim.serviceaccount.name)) return undefined;
        return stillValid(claim, lookup) ? payload.sub : undefined;
      } catch {
        // Not a token of ours, expired, or for another audience: 401, as kube-apiserver answers.
        return undefined;
      }
    },
  };
}
