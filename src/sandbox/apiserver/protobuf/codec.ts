import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { AppError, describeError } from '../../../shared/errors.js';
import { isObject, type JsonObject } from '../object.js';
import type { FieldDef, GroupVersionSchema, KindDef, MessageDef, ScalarType, SpecialType } from './schema.js';

/**
 * The magic that starts every protobuf-encoded object of the Kubernetes API, before the
 * runtime.Unknown envelope (k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go).
 */
export const protobufMagic: Uint8Array = new Uint8Array([0x6b, 0x38, 0x73, 0x00]);

/** A protobuf body that cannot be decoded; the message says why (the server answers 400 with it). */
export class ProtobufDecodeError extends AppError {
  constructor(message: string, cause?: unknown) {
    super('ERR_PROTOBUF_DECODE', message, { cause });
  }
}

/** Encodes and decodes API objects as kube-apiserver's protobuf serializer does. */
export interface ProtobufCodec {
  /** Whether objects of this apiVersion and kind have a message. */
  knows(apiVersion: string, kind: string): boolean;
  /** `k8s\0` + runtime.Unknown{typeMeta, raw}; undefined when the kind has no message. */
  encodeObject(obj: JsonObject): Uint8Array | undefined;
  /** The inverse: the object as JSON, with apiVersion and kind from the envelope. */
  decodeObject(data: Uint8Array): JsonObject;
  /**
   * One watch event as the protobuf watch stream frames it: a 4-byte big-endian length, then a
   * metav1.WatchEvent without envelope whose object (a RawExtension) holds the enveloped object.
   */
  watchFrame(event: JsonObject): Uint8Array;
  /** Decodes one message by name (for frames and tests). */
  decodeMessage(data: Uint8Array, messageName: string): JsonObject;
  /** Encodes one message by name, without envelope (documents that are not API objects). */
  encodeMessage(obj: JsonObject, messageName: string): Uint8Array;
}

/** Builds a codec over the messages and kinds of the given group-versions. */
export function createProtobufCodec(schemas: readonly GroupVersionSchema[], extraKinds: readonly KindDef[]): ProtobufCodec {
  const messages = new Map<string, MessageDef>(schemas.flatMap((s) => s.messages.map((m) => [m.name, m] as const)));
  const kinds = new Map<string, string>([...schemas.flatMap((s) => s.kinds), ...extraKinds].map((k) => [`${k.apiVersion}/${k.kind}`, k.message]));
  const messageOf = (name: string): MessageDef => {
    const m = messages.get(name);
    if (m === undefined) throw new Error(`protobuf schema: no message ${name}`);
    return m;
  };
  const kindMessage = (apiVersion: string, kind: string): MessageDef | undefined => {
    const name = kinds.get(`${apiVersion}/${kind}`) ?? (kind === 'DeleteOptions' ? 'meta.v1.DeleteOptions' : undefined);
    return name === undefined ? undefined : messageOf(name);
  };
  const codec: ProtobufCodec = {
    knows: (apiVersion, kind) => kindMessage(apiVersion, kind) !== undefined,
    encodeObject(obj) {
      // The /api document (APIVersions) is served without an apiVersion; its envelope says v1.
      const apiVersion = typeof obj.apiVersion === 'string' ? obj.apiVersion : 'v1';
      const kind = typeof obj.kind === 'string' ? obj.kind : '';
      const m = kindMessage(apiVersion, kind);
      if (m === undefined) return undefined;
      const raw = new BinaryWriter();
      writeMessage(raw, obj, m, env);
      // gogo-generated marshalling writes the non-pointer fields of runtime.Unknown always, empty or not.
      const unknown = new BinaryWriter();
      unknown.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(apiVersion).tag(2, WireType.LengthDelimited).string(kind).join();
      unknown.tag(2, WireType.LengthDelimited).bytes(raw.finish());
      unknown.tag(3, WireType.LengthDelimited).string('').tag(4, WireType.LengthDelimited).string('');
      return concat(protobufMagic, unknown.finish());
    },
    decodeObject(data) {
      if (data.length < protobufMagic.length || !protobufMagic.every((b, i) => data[i] === b)) {
        throw new ProtobufDecodeError(`provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]`);
      }
      const unknown = readMessage(data.subarray(protobufMagic.length), messageOf('runtime.Unknown'), env);
      const typeMeta = isObject(unknown.typeMeta) ? unknown.typeMeta : {};
      const apiVersion = typeof typeMeta.apiVersion === 'string' ? typeMeta.apiVersion : '';
      const kind = typeof typeMeta.kind === 'string' ? typeMeta.kind : '';
      const m = kindMessage(apiVersion, kind);
      if (m === undefined) throw new ProtobufDecodeError(`no kind "${kind}" is registered for version "${apiVersion}"`);
      const raw = typeof unknown.raw === 'string' ? Buffer.from(unknown.raw, 'base64') : new Uint8Array();
      return { apiVersion, kind, ...readMessage(raw, m, env) };
    },
    watchFrame(event) {
      const w = new BinaryWriter();
      writeMessage(w, event, messageOf('meta.v1.WatchEvent'), env);
      const body = w.finish();
      const frame = new Uint8Array(4 + body.length);
      new DataView(frame.buffer).setUint32(0, body.length, false);
      frame.set(body, 4);
      return frame;
    },
    decodeMessage: (data, name) => readMessage(data, messageOf(name), env),
    encodeMessage(obj, name) {
      const w = new BinaryWriter();
      writeMessage(w, obj, messageOf(name), env);
      return w.finish();
    },
  };
  const env: CodecEnv = { messageOf, encodeObject: (o) => codec.encodeObject(o), decodeObject: (d) => codec.decodeObject(d) };
  return codec;
}

/** What field codecs need from the codec: nested messages and enveloped objects (RawExtension). */
interface CodecEnv {
  readonly messageOf: (name: string) => MessageDef;
  readonly encodeObject: (obj: JsonObject) => Uint8Array | undefined;
  readonly decodeObject: (data: Uint8Array) => JsonObject;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

// ---- encoding: JSON object -> message ----

function writeMessage(w: BinaryWriter, obj: JsonObject, m: MessageDef, env: CodecEnv): void {
  for (const f of m.fields) {
    if (f.inline) {
      writeValue(w, f, obj, env);
      continue;
    }
    const value = obj[f.json];
    if (value === undefined || value === null) continue;
    if (f.card === 'repeated') {
      for (const item of Array.isArray(value) ? value : []) writeValue(w, f, item, env);
    } else if (f.card === 'map') {
      if (isObject(value)) writeMap(w, f, value, env);
    } else {
      writeValue(w, f, value, env);
    }
  }
}

function writeMap(w: BinaryWriter, f: FieldDef, value: JsonObject, env: CodecEnv): void {
  // Keys sorted, as the generated marshallers of k8s.io/api write maps.
  for (const key of Object.keys(value).sort()) {
    const v = value[key];
    if (v === undefined || v === null) continue;
    w.tag(f.no, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).string(key);
    writeValue(w, { ...f, no: 2 }, v, env);
    w.join();
  }
}

function writeValue(w: BinaryWriter, f: FieldDef, value: unknown, env: CodecEnv): void {
  const t = f.type;
  if (typeof t !== 'object') {
    valueCodecs[t].write(w, f.no, value, env);
    return;
  }
  if (!isObject(value)) return;
  w.tag(f.no, WireType.LengthDelimited).fork();
  writeMessage(w, value, env.messageOf(t.message), env);
  w.join();
}

/** How one scalar or special type is written (tag included; nothing when the JSON value has the wrong type) and read. */
interface ValueCodec {
  readonly wire: WireType;
  write(w: BinaryWriter, no: number, value: unknown, env: CodecEnv): void;
  read(r: BinaryReader, env: CodecEnv): unknown;
}

const LD = WireType.LengthDelimited;

/** The codec of each non-message type: the table the codec is driven by. */
const valueCodecs: Readonly<Record<ScalarType | SpecialType, ValueCodec>> = {
  string: {
    wire: LD,
    write(w, no, v) {
      if (typeof v === 'string') w.tag(no, LD).string(v);
    },
    read: (r) => r.string(),
  },
  int32: {
    wire: WireType.Varint,
    write(w, no, v) {
      if (typeof v === 'number') w.tag(no, WireType.Varint).int32(v);
    },
    read: (r) => r.int32(),
  },
  int64: {
    wire: WireType.Varint,
    write(w, no, v) {
      if ((typeof v === 'number' || typeof v === 'string')) w.tag(no, WireType.Varint).int64(v);
    },
    read: (r) => Number(r.int64()),
  },
  bool: {
    wire: WireType.Varint,
    write(w, no, v) {
      if (typeof v === 'boolean') w.tag(no, WireType.Varint).bool(v);
    },
    read: (r) => r.bool(),
  },
  // JSON carries bytes as standard base64.
  bytes: {
    wire: LD,
    write(w, no, v) {
      if (typeof v === 'string') w.tag(no, LD).bytes(Buffer.from(v, 'base64'));
    },
    read: (r) => Buffer.from(r.bytes()).toString('base64'),
  },
  Time: {
    wire: LD,
    write(w, no, v) {
      if (typeof v === 'string') writeTimestamp(w, no, v);
    },
    read: (r) => readTimestamp(r.bytes(), 'Time'),
  },
  MicroTime: {
    wire: LD,
    write(w, no, v) {
      if (typeof v === 'string') writeTimestamp(w, no, v);
    },
    read: (r) => readTimestamp(r.bytes(), 'MicroTime'),
  },
  IntOrString: {
    wire: LD,
    write(w, no, v) {
      if ((typeof v === 'number' || typeof v === 'string')) writeIntOrString(w, no, v);
    },
    read: (r) => readIntOrString(r.bytes()),
  },
  Quantity: {
    wire: LD,
    write(w, no, v) {
      if ((typeof v === 'string' || typeof v === 'number')) w.tag(no, LD).fork().tag(1, LD).string(String(v)).join();
    },
    read: (r) => Buffer.from(readSingleBytes(r.bytes())).toString('utf8'),
  },
  // FieldsV1 is raw JSON in the message and the object itself in JSON.
  FieldsV1: {
    wire: LD,
    write(w, no, v) {
      w.tag(no, LD).fork().tag(1, LD).bytes(Buffer.from(JSON.stringify(v))).join();
    },
    read: (r) => parseRawJson(readSingleBytes(r.bytes())),
  },
  StringList: {
    wire: LD,
    write(w, no, v) {
      if (!Array.isArray(v)) return;
      w.tag(no, LD).fork();
      for (const item of v) if (typeof item === 'string') w.tag(1, LD).string(item);
      w.join();
    },
    read: (r) => readStringList(r.bytes()),
  },
  // A RawExtension holds an enveloped object (a watch event's object); in JSON it is that object.
  RawExtension: {
    wire: LD,
    write(w, no, v, env) {
      const raw = isObject(v) ? env.encodeObject(v) : undefined;
      if (raw !== undefined) w.tag(no, LD).fork().tag(1, LD).bytes(raw).join();
    },
    read: (r, env) => env.decodeObject(readSingleBytes(r.bytes())),
  },
};

/** RFC 3339 text (seconds or any fraction) -> google.protobuf.Timestamp-shaped {seconds, nanos}. */
function writeTimestamp(w: BinaryWriter, no: number, text: string): void {
  const match = /^(.*?)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  const ms = Date.parse(match === null ? text : `${match[1] ?? ''}${match[3] ?? ''}`);
  // Stored objects passed validation; a time that is not RFC 3339 is left out, as an unset time.
  if (!Number.isFinite(ms)) return;
  const nanos = Number((match?.[2] ?? '').padEnd(9, '0'));
  w.tag(no, WireType.LengthDelimited).fork();
  w.tag(1, WireType.Varint).int64(Math.floor(ms / 1000));
  if (nanos !== 0) w.tag(2, WireType.Varint).int32(nanos);
  w.join();
}

function writeIntOrString(w: BinaryWriter, no: number, value: number | string): void {
  // As gogo marshals intstr.IntOrString: all three fields, type 0 (Int) or 1 (String).
  const isInt = typeof value === 'number';
  w.tag(no, WireType.LengthDelimited).fork();
  w.tag(1, WireType.Varint).int64(isInt ? 0 : 1);
  w.tag(2, WireType.Varint).int32(isInt ? value : 0);
  w.tag(3, WireType.LengthDelimited).string(isInt ? '' : value);
  w.join();
}

// ---- decoding: message -> JSON object ----

/**
 * Decodes one message. Unknown field numbers are skipped, as the generated unmarshallers of
 * k8s.io/api do (`skipGenerated`): the real server neither keeps nor rejects them.
 */
function readMessage(data: Uint8Array, m: MessageDef, env: CodecEnv): JsonObject {
  const r = new BinaryReader(data);
  const out: JsonObject = {};
  try {
    while (r.pos < r.len) {
      const [no, wt] = r.tag();
      const f = m.fields.find((x) => x.no === no);
      if (f === undefined) {
        r.skip(wt);
        continue;
      }
      readField(r, wt, f, out, env);
    }
  } catch (e: unknown) {
    if (e instanceof ProtobufDecodeError) throw e;
    throw new ProtobufDecodeError(`${m.name}: ${describeError(e)}`, e);
  }
  return out;
}

function readField(r: BinaryReader, wt: WireType, f: FieldDef, out: JsonObject, env: CodecEnv): void {
  if (isPacked(f, wt)) {
    readPackedField(r, f, out, env);
    return;
  }
  if (wt !== expectedWireType(f)) throw new ProtobufDecodeError(`proto: wrong wireType = ${String(wt)} for field ${f.json}`);
  if (f.inline) readInlineField(r, f, out, env);
  else if (f.card === 'map') readMapField(r, f, out, env);
  else if (f.card === 'repeated') readRepeatedField(r, f, out, env);
  else {
    const value = readValue(r, f, env);
    if (value !== undefined && (f.presence || !isZero(value))) out[f.json] = value;
  }
}

/** An embedded message: its fields join the parent's JSON object. */
function readInlineField(r: BinaryReader, f: FieldDef, out: JsonObject, env: CodecEnv): void {
  const nested = readValue(r, f, env);
  if (isObject(nested)) Object.assign(out, nested);
}

function readMapField(r: BinaryReader, f: FieldDef, out: JsonObject, env: CodecEnv): void {
  const [key, value] = readMapEntry(r.bytes(), f, env);
  const map = isObject(out[f.json]) ? (out[f.json] as JsonObject) : {};
  if (value !== undefined) map[key] = value;
  out[f.json] = map;
}

function readRepeatedField(r: BinaryReader, f: FieldDef, out: JsonObject, env: CodecEnv): void {
  const value = readValue(r, f, env);
  const list = Array.isArray(out[f.json]) ? (out[f.json] as unknown[]) : [];
  if (value !== undefined) list.push(value);
  out[f.json] = list;
}

/**
 * A repeated varint field sent packed. The generated marshallers of k8s.io/api write proto2
 * repeated scalars unpacked, and their unmarshallers accept both forms (protobuf encoding guide,
 * "Packed Repeated Fields": parsers must accept either).
 */
function isPacked(f: FieldDef, wt: WireType): boolean {
  return f.card === 'repeated' && wt === WireType.LengthDelimited && typeof f.type !== 'object' && valueCodecs[f.type].wire === WireType.Varint;
}

function readPackedField(r: BinaryReader, f: FieldDef, out: JsonObject, env: CodecEnv): void {
  const packed = new BinaryReader(r.bytes());
  const list = Array.isArray(out[f.json]) ? (out[f.json] as unknown[]) : [];
  while (packed.pos < packed.len) list.push(readValue(packed, f, env));
  out[f.json] = list;
}

function isZero(value: unknown): boolean {
  return value === '' || value === 0 || value === false;
}

function expectedWireType(f: FieldDef): WireType {
  if (f.card === 'map' || typeof f.type === 'object') return WireType.LengthDelimited;
  return valueCodecs[f.type].wire;
}

function readMapEntry(entry: Uint8Array, f: FieldDef, env: CodecEnv): [string, unknown] {
  const r = new BinaryReader(entry);
  let key = '';
  let value: unknown;
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited) key = r.string();
    else if (no === 2) value = readValue(r, { ...f, card: 'one' }, env);
    else r.skip(wt);
  }
  // A map entry without a value holds the value type's zero.
  return [key, value ?? zeroOf(f.type)];
}

function zeroOf(t: FieldDef['type']): unknown {
  if (t === 'string' || t === 'bytes' || t === 'Quantity') return '';
  return undefined;
}

function readValue(r: BinaryReader, f: FieldDef, env: CodecEnv): unknown {
  const t = f.type;
  return typeof t === 'object' ? readMessage(r.bytes(), env.messageOf(t.message), env) : valueCodecs[t].read(r, env);
}

function readTimestamp(data: Uint8Array, t: 'Time' | 'MicroTime'): string | undefined {
  const r = new BinaryReader(data);
  let seconds = 0;
  let nanos = 0;
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.Varint) seconds = Number(r.int64());
    else if (no === 2 && wt === WireType.Varint) nanos = r.int32();
    else r.skip(wt);
  }
  // The zero time marshals as an empty message and reads back as JSON null.
  if (seconds === 0 && nanos === 0) return undefined;
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  // metav1.Time is RFC 3339 in seconds; MicroTime has six fraction digits (RFC3339Micro).
  return t === 'Time' ? `${base}Z` : `${base}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z`;
}

function readIntOrString(data: Uint8Array): number | string {
  const r = new BinaryReader(data);
  let type = 0;
  let intVal = 0;
  let strVal = '';
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.Varint) type = Number(r.int64());
    else if (no === 2 && wt === WireType.Varint) intVal = r.int32();
    else if (no === 3 && wt === WireType.LengthDelimited) strVal = r.string();
    else r.skip(wt);
  }
  return type === 1 ? strVal : intVal;
}

/** The items (field 1) of a message wrapping a list of strings (metav1.Verbs). */
function readStringList(data: Uint8Array): string[] {
  const r = new BinaryReader(data);
  const out: string[] = [];
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited) out.push(r.string());
    else r.skip(wt);
  }
  return out;
}

/** Field 1 of a one-field message holding bytes (Quantity, FieldsV1, RawExtension). */
function readSingleBytes(data: Uint8Array): Uint8Array {
  const r = new BinaryReader(data);
  let out: Uint8Array = new Uint8Array();
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited) out = r.bytes();
    else r.skip(wt);
  }
  return out;
}

function parseRawJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    throw new ProtobufDecodeError('FieldsV1: raw bytes are not JSON');
  }
}
