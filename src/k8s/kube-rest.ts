import { existsSync, readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { dirname, isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parse } from 'yaml';
import { AppError } from '../shared/errors.js';

/**
 * A small Kubernetes REST client for the speaker: JSON requests and watch streams over one
 * keep-alive agent, from a kubeconfig or the pod's service account. It exists because
 * `@kubernetes/client-node` loads every generated model and API class at import (its
 * `KubeConfig` alone pulls them in), ~55 MB of RSS that a DaemonSet pays on every node
 * (docs/speaker.md, "Memory"). The controller, one replica, keeps client-node.
 */

/** A failure to talk to the API server that is not an expected HTTP status. */
export class KubeApiError extends AppError {
  /** HTTP status, or 0 when the request never got an answer. */
  readonly status: number;
  constructor(message: string, status: number, cause?: unknown) {
    super('ERR_KUBE_API', message, { cause });
    this.status = status;
  }
}

/** The HTTP status of an API error (ours, client-node's ApiException or a watch error), or 0 if there is none. */
export function httpStatusOf(e: unknown): number {
  if (e instanceof KubeApiError) return e.status;
  if (typeof e !== 'object' || e === null) return 0;
  const record = e as { code?: unknown; statusCode?: unknown };
  if (typeof record.code === 'number') return record.code;
  if (typeof record.statusCode === 'number') return record.statusCode;
  return 0;
}

/** Whether an error is the AbortError raised when we stop a request or watch ourselves. */
export function isAbortError(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || /aborted/i.test(e.message));
}

/** Where the API server is and how to authenticate, from a kubeconfig or the service account. */
export interface KubeEndpoint {
  /** e.g. `https://10.96.0.1:443`, no trailing slash. */
  readonly server: string;
  readonly tls: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer; readonly rejectUnauthorized: boolean; readonly servername?: string };
  /** The bearer token now (re-read from its file, which the kubelet rotates), if any. */
  token(): string | undefined;
}

/** Where to look: an explicit kubeconfig, else ~/.kube/config, else the pod's service account. */
export interface KubeEndpointSource {
  readonly kubeconfigPath?: string | undefined;
  /** The process environment (HOME, KUBERNETES_SERVICE_HOST/PORT); passed in by cli/. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The service account directory (tests); default `/var/run/secrets/kubernetes.io/serviceaccount`. */
  readonly serviceAccountDir?: string;
}

const defaultServiceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

type Raw = Readonly<Record<string, unknown>>;
const isRaw = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (o: Raw, k: string): string | undefined => (typeof o[k] === 'string' ? o[k] : undefined);

/** The entry named `name` of a kubeconfig list (`clusters`, `users`, `contexts`), unwrapped (`cluster`, `user`, `context`). */
function entry(doc: Raw, list: string, field: string, name: string | undefined, where: string): Raw {
  const items = Array.isArray(doc[list]) ? (doc[list] as unknown[]) : [];
  const found = items.find((i): i is Raw => isRaw(i) && i.name === name);
  const inner = found?.[field];
  if (!isRaw(inner)) throw new AppError('ERR_KUBECONFIG', `kubeconfig ${where}: ${list}: no entry named "${String(name)}"`);
  return inner;
}

/** File or inline base64 data, as kubeconfig spells both (`certificate-authority` / `-data`). */
function fileOrData(o: Raw, key: string, base: string): Buffer | undefined {
  const data = text(o, `${key}-data`);
  if (data !== undefined) return Buffer.from(data, 'base64');
  const path = text(o, key);
  return path === undefined ? undefined : readFileSync(isAbsolute(path) ? path : join(base, path));
}

function readKubeconfig(path: string): Raw {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (e: unknown) {
    throw new AppError('ERR_KUBECONFIG', `cannot load kubeconfig ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (!isRaw(doc)) throw new AppError('ERR_KUBECONFIG', `kubeconfig ${path}: not a YAML mapping`);
  return doc;
}

/** The current context's cluster and user entries. */
function currentEntries(doc: Raw, path: string): { cluster: Raw; clusterName: string; user: Raw; userName: string } {
  const contextName = text(doc, 'current-context');
  if (contextName === undefined || contextName === '') throw new AppError('ERR_KUBECONFIG', `kubeconfig ${path} has no current cluster (current-context is empty)`);
  const context = entry(doc, 'contexts', 'context', contextName, path);
  const clusterName = text(context, 'cluster') ?? '';
  const userName = text(context, 'user') ?? '';
  return { cluster: entry(doc, 'clusters', 'cluster', clusterName, path), clusterName, user: userName === '' ? {} : entry(doc, 'users', 'user', userName, path), userName };
}

function fromKubeconfig(path: string): KubeEndpoint {
  const { cluster, clusterName, user, userName } = currentEntries(readKubeconfig(path), path);
  const unsupported = ['exec', 'auth-provider', 'username'].find((k) => user[k] !== undefined);
  if (unsupported !== undefined) {
    throw new AppError('ERR_KUBECONFIG', `kubeconfig ${path}: users[${userName}].user.${unsupported}: not supported by the speaker (it keeps a small client, docs/speaker.md "Memory"); use token, tokenFile or a client certificate`);
  }
  const server = text(cluster, 'server');
  if (server === undefined) throw new AppError('ERR_KUBECONFIG', `kubeconfig ${path}: clusters[${clusterName}].cluster.server: missing`);
  const base = dirname(path);
  const token = text(user, 'token');
  const tokenFile = text(user, 'tokenFile');
  const tls = {
    ca: fileOrData(cluster, 'certificate-authority', base),
    cert: fileOrData(user, 'client-certificate', base),
    key: fileOrData(user, 'client-key', base),
    servername: text(cluster, 'tls-server-name'),
  };
  const defined = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)) as Omit<KubeEndpoint['tls'], 'rejectUnauthorized'>;
  return {
    server: server.replace(/\/+$/, ''),
    tls: { ...defined, rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true },
    token: () => token ?? (tokenFile === undefined ? undefined : readFileSync(tokenFile, 'utf8').trim()),
  };
}

function inCluster(env: KubeEndpointSource['env'], dir: string): KubeEndpoint | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const tokenPath = join(dir, 'token');
  if (host === undefined || host === '' || port === undefined || !existsSync(tokenPath)) return undefined;
  const caPath = join(dir, 'ca.crt');
  // Bound service account tokens expire (about an hour); the kubelet rewrites the file, so it is read again, at most once a minute.
  let cached = { at: 0, token: '' };
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    tls: { ...(existsSync(caPath) ? { ca: readFileSync(caPath) } : {}), rejectUnauthorized: true },
    token: () => {
      if (Date.now() - cached.at > 60_000) cached = { at: Date.now(), token: readFileSync(tokenPath, 'utf8').trim() };
      return cached.token;
    },
  };
}

/** Finds the cluster as client-node's `loadFromDefault` would (first KUBECONFIG entry, ~/.kube/config, in-cluster). */
export function loadKubeEndpoint(source: KubeEndpointSource): KubeEndpoint {
  const explicit = source.kubeconfigPath?.split(':').find((p) => p !== '');
  if (explicit !== undefined) return fromKubeconfig(explicit);
  const home = source.env.HOME;
  const homeConfig = home === undefined ? undefined : join(home, '.kube', 'config');
  if (homeConfig !== undefined && existsSync(homeConfig)) return fromKubeconfig(homeConfig);
  const pod = inCluster(source.env, source.serviceAccountDir ?? defaultServiceAccountDir);
  if (pod !== undefined) return pod;
  throw new AppError(
    'ERR_NO_CLUSTER_CONFIG',
    'no cluster configuration: no --kubeconfig, KUBECONFIG or ~/.kube/config, and not in a pod (KUBERNETES_SERVICE_HOST and a service account token)',
  );
}

/** One watch event as the API server streams it. */
export interface WatchEvent {
  readonly type: string;
  readonly object: Raw;
}

/** JSON requests and watch streams against one API server. */
export interface KubeRest {
  /** Sends one request; resolves with the decoded JSON answer, rejects with KubeApiError (status 0: no answer). */
  request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<T>;
  /**
   * Streams `path?watch=true&...query` into `onEvent`. Resolves when the server ends the stream
   * (or `signal` aborts); rejects with KubeApiError when it refuses the watch or the connection fails.
   */
  watch(path: string, query: Readonly<Record<string, string>>, onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void>;
}

function errorOf(status: number, body: string, path: string): KubeApiError {
  let message = body.trim();
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not a Status: keep the text
  }
  return new KubeApiError(`${path}: HTTP ${String(status)}: ${message.slice(0, 500)}`, status);
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => (out += d));
    res.on('end', () => { resolve(out); });
    res.on('error', reject);
  });
}

/**
 * Requests sent again after meeting a kept-alive socket the server had just closed: the agent
 * may hold several such sockets after a quiet spell, each failing once.
 */
const staleSocketRetries = 3;

/** A KubeRest over node:http(s) with one keep-alive agent. */
export function createKubeRest(endpoint: KubeEndpoint): KubeRest {
  const secure = endpoint.server.startsWith('https:');
  const agent = secure ? new HttpsAgent({ keepAlive: true, ...endpoint.tls }) : new HttpAgent({ keepAlive: true });
  const send = secure ? httpsRequest : httpRequest;

  const open = async (method: string, path: string, body: string | undefined, signal: AbortSignal | undefined): Promise<IncomingMessage> => {
    for (let attempt = 1; ; attempt += 1) {
      const sent = await openOnce(method, path, body, signal);
      if (sent.ok) return sent.res;
      if (attempt > staleSocketRetries || signal?.aborted === true) throw sent.error;
    }
  };

  /**
   * One request. `ok: false` with a retryable error only when it went out on a kept-alive socket
   * that the server had closed meanwhile (ECONNRESET before any answer): the server closes idle
   * sockets on its own timer (Node's default keepAliveTimeout is 5 s; a loaded client may reuse
   * one just after), and never read the request, so sending it again is safe. This is the retry
   * the Node.js http docs give for `request.reusedSocket`. Other failures reject as before.
   */
  const openOnce = (method: string, path: string, body: string | undefined, signal: AbortSignal | undefined): Promise<{ ok: true; res: IncomingMessage } | { ok: false; error: KubeApiError }> =>
    new Promise((resolve, reject) => {
      const token = endpoint.token();
      const headers: Record<string, string> = { accept: 'application/json' };
      if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`;
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(Buffer.byteLength(body));
      }
      const options: RequestOptions = { method, agent, headers, ...(signal === undefined ? {} : { signal }) };
      const req = send(`${endpoint.server}${path}`, options, (res) => { resolve({ ok: true, res }); });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (isAbortError(e)) reject(e);
        else if (req.reusedSocket && e.code === 'ECONNRESET') resolve({ ok: false, error: new KubeApiError(`${path}: ${e.message}`, 0, e) });
        else reject(new KubeApiError(`${path}: ${e.message}`, 0, e));
      });
      req.end(body);
    });

  return {
    async request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
      const res = await open(method, path, body === undefined ? undefined : JSON.stringify(body), signal);
      const answer = await readAll(res);
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) throw errorOf(status, answer, path);
      return JSON.parse(answer) as T;
    },
    async watch(path, query, onEvent, signal) {
      const params = new URLSearchParams({ ...query, watch: 'true' });
      let res: IncomingMessage;
      try {
        res = await open('GET', `${path}?${params.toString()}`, undefined, signal);
      } catch (e: unknown) {
        if (signal.aborted) return;
        throw e;
      }
      if (res.statusCode !== 200) throw errorOf(res.statusCode ?? 0, await readAll(res), path);
      await new Promise<void>((resolve, reject) => {
        const lines = createInterface({ input: res, crlfDelay: Infinity });
        lines.on('line', (line) => {
          if (line.trim() === '') return;
          let event: WatchEvent;
          try {
            event = JSON.parse(line) as WatchEvent;
          } catch (e: unknown) {
            res.destroy(new KubeApiError(`${path}: watch stream: not JSON: ${line.slice(0, 100)}`, 0, e));
            return;
          }
          onEvent(event);
        });
        lines.on('close', () => { resolve(); });
        // readline re-emits the stream's errors (a connection cut mid-stream: "aborted") on itself.
        lines.on('error', () => undefined);
        res.on('error', (e) => {
          if (signal.aborted || isAbortError(e)) resolve();
          else reject(new KubeApiError(`${path}: watch stream: ${e.message}`, 0, e));
        });
      });
    },
  };
}
