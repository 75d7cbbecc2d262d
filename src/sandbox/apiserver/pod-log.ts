import { open, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { containerLogPath } from '../kubelet/log-files.js';
import { child, isObject, list, str, type JsonObject } from './object.js';
import type { ResourceDef } from './resources.js';
import { ApiStatusError } from './status.js';
import type { Store } from './store.js';

/**
 * GET pods/<name>/log: the container's log file as the kubelet wrote it (kubelet/log-files.ts),
 * with `previous`, `tailLines`, `limitBytes` and `follow` (streams what is appended until the
 * container stops running, the Pod goes or the client hangs up), as `kubectl logs` uses them
 * (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#read-log-of-the-specified-pod).
 */
export interface PodLogSource {
  /** Root of the log tree; undefined when no kubelet writes logs (no netns). */
  readonly root: string | undefined;
  readonly store: Store;
  readonly def: ResourceDef;
}

/** How often a follower looks for appended bytes. */
const followPollMs = 250;

function containerStatusOf(pod: JsonObject, container: string): JsonObject | undefined {
  const found = list(child(pod, 'status'), 'containerStatuses').find((c) => isObject(c) && c.name === container);
  return isObject(found) ? found : undefined;
}

function waitingError(pod: JsonObject, container: string, status: JsonObject | undefined): ApiStatusError {
  const reason = str(child(child(status ?? {}, 'state'), 'waiting'), 'reason') ?? 'ContainerCreating';
  return new ApiStatusError('BadRequest', `container "${container}" in pod "${str(child(pod, 'metadata'), 'name') ?? ''}" is waiting to start: ${reason}`);
}

/** The restartCount whose file to read, or the error kube-apiserver/kubelet gives. */
function incarnation(pod: JsonObject, container: string, previous: boolean): number {
  const status = containerStatusOf(pod, container);
  const restarts = typeof status?.restartCount === 'number' ? status.restartCount : 0;
  if (previous) {
    if (restarts === 0) throw new ApiStatusError('BadRequest', `previous terminated container "${container}" in pod "${str(child(pod, 'metadata'), 'name') ?? ''}" not found`);
    return restarts - 1;
  }
  if (str(status ?? {}, 'containerID') === undefined) throw waitingError(pod, container, status);
  return restarts;
}

/** The last `n` lines of `text` (a trailing newline ends the last line, it does not start another). */
export function tailLines(text: string, n: number): string {
  if (n <= 0) return '';
  const lines = text.split('\n');
  const trailing = lines.at(-1) === '' ? lines.pop() : undefined;
  return lines.slice(-n).join('\n') + (trailing === undefined ? '' : '\n');
}

function numberParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw)) throw new ApiStatusError('BadRequest', `${name}: invalid value "${raw}": must be a non-negative integer`);
  return n;
}

/** Whether the follower should keep waiting: the same Pod, the same incarnation, still running. */
function stillRunning(src: PodLogSource, pod: JsonObject, container: string, restarts: number): boolean {
  const m = child(pod, 'metadata');
  const now = src.store.get(src.def.storage, str(m, 'namespace') ?? '', str(m, 'name') ?? '');
  if (now === undefined || str(child(now, 'metadata'), 'uid') !== str(m, 'uid')) return false;
  const status = containerStatusOf(now, container);
  return status?.restartCount === restarts && isObject(child(status, 'state').running);
}

async function readFrom(file: FileHandle, offset: number): Promise<Buffer> {
  const { size } = await file.stat();
  if (size <= offset) return Buffer.alloc(0);
  const buf = Buffer.alloc(size - offset);
  await file.read(buf, 0, buf.length, offset);
  return buf;
}

async function follow(src: PodLogSource, chosen: { readonly pod: JsonObject; readonly container: string }, restarts: number, file: FileHandle, start: number, x: { req: IncomingMessage; res: ServerResponse }): Promise<void> {
  let offset = start;
  const state = { closed: false };
  x.req.socket.once('close', () => { state.closed = true; });
  for (;;) {
    const running = stillRunning(src, chosen.pod, chosen.container, restarts);
    const more = await readFrom(file, offset);
    offset += more.length;
    if (more.length > 0) x.res.write(more);
    if (state.closed || !running) return;
    await new Promise((resolve) => setTimeout(resolve, followPollMs));
  }
}

function flag(query: URLSearchParams, name: string): boolean {
  // Booleans as kube-apiserver reads them: absent, empty, 0 or false (any case) are false.
  const raw = query.get(name);
  return raw !== null && !['', 'false', '0'].includes(raw.toLowerCase());
}

function firstBytes(all: Buffer, tail: number | undefined, limit: number | undefined): Buffer {
  const text = tail === undefined ? all : Buffer.from(tailLines(all.toString('utf8'), tail));
  return limit === undefined ? text : text.subarray(0, limit);
}

/** Serves the log; errors before the first byte are thrown as API errors. */
export async function servePodLog(src: PodLogSource, chosen: { readonly pod: JsonObject; readonly container: string }, x: { req: IncomingMessage; res: ServerResponse; query: URLSearchParams }): Promise<void> {
  const previous = flag(x.query, 'previous');
  const restarts = incarnation(chosen.pod, chosen.container, previous);
  const tail = numberParam(x.query, 'tailLines');
  const limit = numberParam(x.query, 'limitBytes');
  const m = child(chosen.pod, 'metadata');
  const id = { namespace: str(m, 'namespace') ?? '', name: str(m, 'name') ?? '', uid: str(m, 'uid') ?? '' };
  if (src.root === undefined) throw waitingError(chosen.pod, chosen.container, containerStatusOf(chosen.pod, chosen.container));
  const file = await open(containerLogPath(src.root, id, chosen.container, restarts), 'r').catch(() => undefined);
  if (file === undefined) throw waitingError(chosen.pod, chosen.container, containerStatusOf(chosen.pod, chosen.container));
  try {
    const all = await readFrom(file, 0);
    x.res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
    x.res.write(firstBytes(all, tail, limit));
    if (flag(x.query, 'follow') && !previous) await follow(src, chosen, restarts, file, all.length, x);
  } finally {
    await file.close();
    x.res.end();
  }
}
