import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { AppError } from '../shared/errors.js';
import { err, ok, type Result } from '../shared/result.js';
import { child, isObject, list, str, type JsonObject } from './apiserver/object.js';
import { apiVersionOf, resourceDefs } from './apiserver/resources.js';
import { isIronlbImage } from './kubelet/ironlb-runtime.js';
import { sendOk, type JsonClient } from './workloads/json-client.js';

/**
 * Installs ironlb into the sandbox the way users install it: manifests/ read as
 * `kubectl apply -k manifests/` reads it (kustomization.yaml's `resources` and `images`), with one
 * change a user of a local cluster makes too (as with `kind load` and `kustomize edit set image`):
 * ironlb's image points at the local build, `localhost/ironlb:<package version>`
 * (scripts/build-image.sh tags it so). Every document is then applied through the API with
 * server-side apply, so RBAC, ServiceAccounts, the Deployment and the DaemonSet are exactly what a
 * cluster admin gets. The functions here are pure but for `loadManifests` and `applyDocuments`.
 */

/** One `images:` entry of a kustomization (https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/images/). */
export interface ImageOverride {
  readonly name: string;
  readonly newName?: string;
  readonly newTag?: string;
}

/** The part of a kustomization the sandbox reads. */
export interface Kustomization {
  readonly resources: readonly string[];
  readonly images: readonly ImageOverride[];
}

/** The fields of kustomization.yaml the sandbox understands; any other is refused by name. */
const knownKustomizationFields = new Set(['apiVersion', 'kind', 'resources', 'images']);

/** Parses kustomization.yaml (only local `resources` files and `images`); a refusal names the field. */
export function parseKustomization(text: string, file: string): Result<Kustomization, string> {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e: unknown) {
    return err(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObject(doc)) return err(`${file}: not a mapping`);
  const unknown = Object.keys(doc).filter((k) => !knownKustomizationFields.has(k));
  if (unknown.length > 0) return err(`${file}: field ${unknown.join(', ')} is not supported by the sandbox (only resources and images)`);
  const resources = list(doc, 'resources');
  if (!resources.every((r): r is string => typeof r === 'string' && r !== '' && !r.includes('://') && !r.startsWith('/'))) return err(`${file}: resources: only file names relative to the kustomization are supported`);
  const images = parseImages(list(doc, 'images'), file);
  if (!images.ok) return images;
  return ok({ resources, images: images.value });
}

function parseImages(raw: readonly unknown[], file: string): Result<ImageOverride[], string> {
  const images: ImageOverride[] = [];
  for (const [i, entry] of raw.entries()) {
    const name = isObject(entry) ? str(entry, 'name') : undefined;
    if (!isObject(entry) || name === undefined) return err(`${file}: images[${String(i)}].name is required`);
    const newName = str(entry, 'newName');
    const newTag = str(entry, 'newTag');
    images.push({ name, ...(newName === undefined ? {} : { newName }), ...(newTag === undefined ? {} : { newTag }) });
  }
  return ok(images);
}

/** An image reference split into name, tag and digest (`reg/name:tag@sha256:...`). */
function splitImage(image: string): { readonly name: string; readonly tag: string | undefined; readonly digest: string | undefined } {
  const [ref = '', digest] = image.split('@');
  const m = /^(.*?)(?::([^/:]+))?$/.exec(ref);
  return { name: m?.[1] ?? ref, tag: m?.[2], digest };
}

/** One image through the overrides, as kustomize's image transformer does: the first entry whose name matches. */
export function overrideImage(image: string, overrides: readonly ImageOverride[]): string {
  const parts = splitImage(image);
  const o = overrides.find((x) => x.name === parts.name);
  if (o === undefined) return image;
  const tag = o.newTag ?? parts.tag;
  // a new tag replaces a digest too (kustomize: newTag drops the digest)
  const suffix = o.newTag !== undefined ? `:${o.newTag}` : `${tag === undefined ? '' : `:${tag}`}${parts.digest === undefined ? '' : `@${parts.digest}`}`;
  return `${o.newName ?? parts.name}${suffix}`;
}

/** The Pod spec inside a workload document (Pod, or a template's spec), if any. */
function podSpecOf(doc: JsonObject): JsonObject | undefined {
  if (doc.kind === 'Pod') return child(doc, 'spec');
  const template = child(child(doc, 'spec'), 'template');
  return isObject(template.spec) ? template.spec : undefined;
}

/** The document with every container's image passed through `map` (containers and initContainers). */
export function mapImages(doc: JsonObject, map: (image: string) => string): JsonObject {
  const spec = podSpecOf(doc);
  if (spec === undefined) return doc;
  const mapped = (key: string): JsonObject => (key in spec ? { [key]: list(spec, key).map((c) => (isObject(c) && typeof c.image === 'string' ? { ...c, image: map(c.image) } : c)) } : {});
  const newSpec = { ...spec, ...mapped('containers'), ...mapped('initContainers') };
  if (doc.kind === 'Pod') return { ...doc, spec: newSpec };
  const docSpec = child(doc, 'spec');
  return { ...doc, spec: { ...docSpec, template: { ...child(docSpec, 'template'), spec: newSpec } } };
}

/** ironlb's local build, as scripts/build-image.sh tags it. */
export function localIronlbImage(version: string): string {
  return `localhost/ironlb:${version}`;
}

/** The documents of a manifest text, as objects; a YAML error names the file. */
export function manifestDocuments(text: string, file: string): Result<JsonObject[], string> {
  const docs: JsonObject[] = [];
  for (const d of parseAllDocuments(text)) {
    const firstError = d.errors[0];
    if (firstError !== undefined) return err(`${file}: ${firstError.message}`);
    const doc: unknown = d.toJS();
    if (isObject(doc)) docs.push(doc);
  }
  return ok(docs);
}

/** What `up` applies: the documents, and where they came from (for messages). */
export interface InstallManifests {
  readonly source: string;
  readonly documents: readonly JsonObject[];
}

/**
 * Reads `dir` as `kubectl apply -k` does (kustomization.yaml's resources, in order, with its
 * images), then points ironlb's image at the local build of `version`.
 */
export async function loadManifests(dir: string, version: string): Promise<InstallManifests> {
  const kFile = join(dir, 'kustomization.yaml');
  const k = parseKustomization(await readFile(kFile, 'utf8'), kFile);
  if (!k.ok) throw new AppError('ERR_SANDBOX_INSTALL', k.error);
  const documents: JsonObject[] = [];
  for (const resource of k.value.resources) {
    const file = join(dir, resource);
    const docs = manifestDocuments(await readFile(file, 'utf8'), file);
    if (!docs.ok) throw new AppError('ERR_SANDBOX_INSTALL', docs.error);
    documents.push(...docs.value);
  }
  const local = localIronlbImage(version);
  const mapImage = (image: string): string => {
    const kustomized = overrideImage(image, k.value.images);
    return isIronlbImage(kustomized) ? local : kustomized;
  };
  return { source: `${dir} (kustomization.yaml; image ${local})`, documents: documents.map((d) => mapImages(d, mapImage)) };
}

/** Which documents to apply: workloads (`Deployment`, `DaemonSet`) only when they will run. */
export interface InstallChoice {
  readonly controller: boolean;
  readonly speakers: boolean;
}

/** Whether a document is applied for this choice. */
export function wanted(doc: JsonObject, choice: InstallChoice): boolean {
  if (doc.kind === 'Deployment') return choice.controller;
  if (doc.kind === 'DaemonSet') return choice.speakers;
  return true;
}

/** The object's URL on the API server, from the served resources (resources.ts). */
export function objectPath(doc: JsonObject): Result<string, string> {
  const def = resourceDefs.find((d) => apiVersionOf(d) === doc.apiVersion && d.kind === doc.kind);
  const m = child(doc, 'metadata');
  const name = str(m, 'name');
  const what = `${String(doc.kind)} ${name ?? '(no name)'}`;
  if (def === undefined) return err(`${what}: the sandbox does not serve ${String(doc.apiVersion)} ${String(doc.kind)}`);
  if (name === undefined || name === '') return err(`${what}: metadata.name is required`);
  const base = def.group === '' ? `/api/${def.version}` : `/apis/${def.group}/${def.version}`;
  const ns = def.namespaced ? `/namespaces/${encodeURIComponent(str(m, 'namespace') ?? 'default')}` : '';
  return ok(`${base}${ns}/${def.plural}/${encodeURIComponent(name)}`);
}

/** Applies the documents in order (the Namespace and ServiceAccounts before what uses them). */
export async function applyDocuments(client: JsonClient, docs: readonly JsonObject[], source: string): Promise<void> {
  for (const doc of docs) {
    const path = objectPath(doc);
    if (!path.ok) throw new AppError('ERR_SANDBOX_INSTALL', `${source}: ${path.error}`);
    await sendOk(client, 'PATCH', `${path.value}?fieldManager=ironlb-sandbox&force=true`, doc, 'application/apply-patch+yaml');
  }
}

/** A log line for a message: a JSON (pino) line reduced to its msg and error, at most 200 characters. */
export function logLineText(line: string): string {
  let text = line.trim();
  try {
    const parsed: unknown = JSON.parse(text);
    if (isObject(parsed) && typeof parsed.msg === 'string') {
      const e = child(parsed, 'err');
      text = `${parsed.msg}${typeof e.message === 'string' ? `: ${e.message}` : ''}`;
    }
  } catch {
    // not JSON: as written
  }
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/** The readiness probe of a container spec, in words (`GET /readyz on port monitoring`). */
function readinessText(container: JsonObject): string | undefined {
  const probe = child(container, 'readinessProbe');
  const http = child(probe, 'httpGet');
  const port = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '?');
  if (Object.keys(http).length > 0) return `GET ${str(http, 'path') ?? '/'} on port ${port(http.port)}`;
  const tcp = child(probe, 'tcpSocket');
  if (Object.keys(tcp).length > 0) return `TCP connect to port ${port(tcp.port)}`;
  return undefined;
}

/** `state` of a container status in words. */
function stateText(state: JsonObject): string {
  const waiting = child(state, 'waiting');
  const terminated = child(state, 'terminated');
  const detail = (o: JsonObject): string => (str(o, 'message') === undefined ? '' : ` (${str(o, 'message') ?? ''})`);
  if ('running' in state) return 'running';
  if (Object.keys(waiting).length > 0) return `waiting: ${str(waiting, 'reason') ?? '?'}${detail(waiting)}`;
  if (Object.keys(terminated).length > 0) return `terminated: ${str(terminated, 'reason') ?? '?'}, exit code ${String(terminated.exitCode)}${detail(terminated)}`;
  return 'not started';
}

/** What a container status says in a few words (`running, 2 restarts`, `waiting: CrashLoopBackOff`). */
function containerStateText(cs: JsonObject): string {
  const restarts = typeof cs.restartCount === 'number' ? cs.restartCount : 0;
  const last = child(child(cs, 'lastState'), 'terminated');
  const lastText = Object.keys(last).length > 0 ? [`last exit: ${str(last, 'reason') ?? '?'}, exit code ${String(last.exitCode)}`] : [];
  return [stateText(child(cs, 'state')), `${String(restarts)} restart${restarts === 1 ? '' : 's'}`, ...lastText].join(', ');
}

/** Whether a Pod has the Ready condition. */
export function podReady(pod: JsonObject): boolean {
  return list(child(pod, 'status'), 'conditions').some((c) => isObject(c) && c.type === 'Ready' && c.status === 'True');
}

/**
 * One line per Pod that is not Ready: its name and node, each container's state, its readiness
 * probe, and the last line its current log holds (`lastLogLine` reads it; undefined for none).
 */
export function unreadyPodLines(pods: readonly JsonObject[], lastLogLine: (pod: JsonObject, container: string, restartCount: number) => string | undefined): string[] {
  return pods.filter((p) => !podReady(p)).map((pod) => {
    const m = child(pod, 'metadata');
    const name = `${str(m, 'namespace') ?? ''}/${str(m, 'name') ?? ''}`;
    const node = str(child(pod, 'spec'), 'nodeName');
    const statuses = list(child(pod, 'status'), 'containerStatuses').filter(isObject);
    const containers = list(child(pod, 'spec'), 'containers').filter(isObject).map((c) => {
      const cname = str(c, 'name') ?? '';
      const cs = statuses.find((s) => s.name === cname);
      const probe = readinessText(c);
      const restarts = cs !== undefined && typeof cs.restartCount === 'number' ? cs.restartCount : 0;
      const line = cs === undefined ? undefined : lastLogLine(pod, cname, restarts);
      return [
        `container ${cname}: ${cs === undefined ? 'no status yet' : containerStateText(cs)}`,
        ...(probe === undefined ? [] : [`readiness probe ${probe} not passing`]),
        ...(line === undefined ? [] : [`last log line: ${logLineText(line)}`]),
      ].join('; ');
    });
    return `Pod ${name}${node === undefined ? ' (not scheduled)' : ` on ${node}`}: ${containers.join(' | ')}`;
  });
}
