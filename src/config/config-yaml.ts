import { isScalar, LineCounter, parseAllDocuments, type Document } from 'yaml';
import { err, type Result } from '../shared/result.js';
import type { Config, ConfigIssue } from './config.js';
import { describeValue } from './describe-value.js';
import { parseConfig } from './parse-config.js';
import { isWireMap } from './wire.js';

/** Aliases expand into copies: cap them so a small file cannot become a huge one. */
const maxAliasCount = 100;

type Parsed = Result<Config, readonly ConfigIssue[]>;
type Decoded = { readonly ok: true; readonly docs: readonly Document[] } | { readonly ok: false; readonly issue: ConfigIssue };

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}

/** Decodes every YAML document; a syntax error becomes one issue with its line and column. */
function decode(text: string, lineOffset: number): Decoded {
  // logLevel error: yaml would otherwise print a Node process warning for odd keys (say, a
  // collection as a key), which the strict parser reports as an unknown key anyway.
  const docs = parseAllDocuments(text, { lineCounter: new LineCounter(), prettyErrors: true, uniqueKeys: true, logLevel: 'error' });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    const error = doc.errors[0];
    if (error === undefined) continue;
    const pos = error.linePos?.[0];
    const where = pos === undefined ? 'YAML' : `line ${pos.line + lineOffset}, column ${pos.col}`;
    return { ok: false, issue: { path: where, message: `YAML syntax error: ${firstLine(error.message)}` } };
  }
  return { ok: true, docs: list };
}

function toJs(doc: Document): Result<unknown, ConfigIssue> {
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount }) };
  } catch (e: unknown) {
    // yaml throws for alias bombs and bad merge keys: the user's input, not our bug.
    return err({ path: '', message: `YAML error: ${e instanceof Error ? e.message : String(e)}` });
  }
}

function parseDocument(doc: Document): Parsed {
  const js = toJs(doc);
  return js.ok ? parseConfig(js.value) : err([js.error]);
}

/**
 * Parses the text of a config (the `config` key of the ConfigMap): one YAML document in the
 * MetalLB v0.12 format. `lineOffset` shifts reported line numbers when the text was embedded.
 */
export function parseConfigYaml(text: string, lineOffset = 0): Parsed {
  const decoded = decode(text, lineOffset);
  if (!decoded.ok) return err([decoded.issue]);
  const [doc, ...extra] = decoded.docs;
  if (doc === undefined) return err([{ path: '', message: 'the config is empty: expected a map with address-pools' }]);
  if (extra.length > 0) return err([{ path: '', message: `expected one YAML document, found ${decoded.docs.length}` }]);
  return parseDocument(doc);
}

function kindOf(doc: Document): unknown {
  const js = toJs(doc);
  return js.ok && isWireMap(js.value) ? js.value.kind : undefined;
}

/** The line (0-based) where a block scalar's content starts, so embedded errors point into the file. */
function contentLine(doc: Document, text: string): number {
  const node = doc.getIn(['data', 'config'], true);
  if (!isScalar(node) || node.range === undefined || node.range === null) return 0;
  if (node.type !== 'BLOCK_LITERAL' && node.type !== 'BLOCK_FOLDED') return 0;
  const header = text.slice(0, node.range[0]).split('\n').length - 1;
  return header + 1;
}

function parseManifest(doc: Document, text: string): Parsed {
  const js = toJs(doc);
  if (!js.ok) return err([js.error]);
  const manifest = js.value;
  if (!isWireMap(manifest)) return err([{ path: '', message: 'expected a ConfigMap manifest' }]);
  if (manifest.kind !== 'ConfigMap') {
    return err([{ path: 'kind', message: `${describeValue(manifest.kind)} is not a ConfigMap: give the config itself or its ConfigMap` }]);
  }
  const data = manifest.data;
  if (!isWireMap(data) || data.config === undefined) {
    return err([{ path: 'data.config', message: 'missing: the ConfigMap must hold the config under the key "config"' }]);
  }
  if (typeof data.config !== 'string') return err([{ path: 'data.config', message: `expected a string (the config YAML), got ${describeValue(data.config)}` }]);
  return parseConfigYaml(data.config, contentLine(doc, text));
}

/**
 * Parses what a user hands to `ironlb config validate`: a raw config, or a ConfigMap manifest
 * holding it under `data.config` (a file may hold several documents; exactly one ConfigMap).
 * A document with a `kind` is a manifest: a raw config has no such key.
 */
export function parseConfigSource(text: string): Parsed {
  const decoded = decode(text, 0);
  if (!decoded.ok) return err([decoded.issue]);
  const docs = decoded.docs.filter((d) => d.contents !== null);
  const manifests = docs.filter((d) => kindOf(d) !== undefined);
  if (manifests.length === 0) return parseConfigYaml(text);
  if (docs.length === 1 && manifests[0] !== undefined) return parseManifest(manifests[0], text);
  const configMaps = manifests.filter((d) => kindOf(d) === 'ConfigMap');
  if (configMaps.length === 1 && configMaps[0] !== undefined) return parseManifest(configMaps[0], text);
  return err([{ path: '', message: `expected one ConfigMap among ${docs.length} documents, found ${configMaps.length} (kinds: ${manifests.map((d) => describeValue(kindOf(d))).join(', ')})` }]);
}
