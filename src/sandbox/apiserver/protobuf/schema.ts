/**
 * The compact schema the protobuf codec is driven by: for each message of the Kubernetes API that
 * the sandbox serves, its fields by JSON name with their field number and type. Field numbers are
 * facts of the API: they come from the `generated.proto` files of k8s.io/api and
 * k8s.io/apimachinery. One file per group-version adds its messages and kinds.
 */

/** Wire scalars, written as proto2 `optional` fields. */
export type ScalarType = 'string' | 'int32' | 'int64' | 'bool' | 'bytes';

/**
 * Types whose JSON form differs from their message: metav1.Time (RFC 3339 seconds) and MicroTime
 * (RFC 3339 microseconds) are `{seconds, nanos}`, IntOrString is `{type, intVal, strVal}`,
 * resource.Quantity is `{string}`, FieldsV1 and RawExtension carry raw JSON bytes, and a StringList
 * (metav1.Verbs) is `{repeated string items = 1}` on the wire and a plain array in JSON.
 */
export type SpecialType = 'Time' | 'MicroTime' | 'IntOrString' | 'Quantity' | 'FieldsV1' | 'RawExtension' | 'StringList';

/** A field's value type: a scalar, a special type, or another message by its qualified name. */
export type ValueType = ScalarType | SpecialType | { readonly message: string };

/** One field of a message. */
export interface FieldDef {
  readonly no: number;
  /** The field's JSON name. */
  readonly json: string;
  readonly type: ValueType;
  /** `map` fields are `map<string, type>`. */
  readonly card: 'one' | 'repeated' | 'map';
  /**
   * The Go field is a pointer (or a field that is never omitted): its zero value is kept when
   * decoded. Other zero scalars are dropped, as Go's `omitempty` drops them from JSON.
   */
  readonly presence: boolean;
  /**
   * The Go field is embedded without a JSON name (`ProbeHandler` in Probe, `VolumeSource` in
   * Volume, `LocalObjectReference` in ConfigMapVolumeSource): a nested message on the wire whose
   * fields sit in the parent's JSON object. `json` is then the protobuf field name.
   */
  readonly inline: boolean;
}

/** A message: its fields in field-number order. */
export interface MessageDef {
  readonly name: string;
  readonly fields: readonly FieldDef[];
}

/**
 * A field in the compact notation: `[number, type]`. The type is a scalar or special type name, or
 * a message name (it contains a dot); suffixes: `[]` repeated, `{}` a map with string keys, `?` the
 * Go field is a pointer or is never omitted (no `omitempty`), so presence matters. A name starting
 * with `...` is an embedded message whose fields are inlined into the parent's JSON.
 */
export type CompactField = readonly [number, string];

const scalars: ReadonlySet<string> = new Set(['string', 'int32', 'int64', 'bool', 'bytes', 'Time', 'MicroTime', 'IntOrString', 'Quantity', 'FieldsV1', 'RawExtension', 'StringList']);

/** Builds a message definition from the compact notation. */
export function message(name: string, fields: Readonly<Record<string, CompactField>>): MessageDef {
  const defs = Object.entries(fields).map(([json, [no, spec]]) => field(name, json, no, spec));
  return { name, fields: defs.sort((a, b) => a.no - b.no) };
}

function field(messageName: string, key: string, no: number, spec: string): FieldDef {
  const inline = key.startsWith('...');
  const json = inline ? key.slice(3) : key;
  const presence = spec.endsWith('?');
  const { card, type } = typeOf(`${messageName}.${json}`, presence ? spec.slice(0, -1) : spec);
  if (inline && (card !== 'one' || typeof type !== 'object')) throw new Error(`protobuf schema ${messageName}.${json}: only a single message can be inlined`);
  return { no, json, type, card, presence, inline };
}

/** `string[]` -> repeated string, `core.v1.Taint` -> one message. */
function typeOf(where: string, bare: string): Pick<FieldDef, 'card' | 'type'> {
  const card = bare.endsWith('[]') ? 'repeated' : bare.endsWith('{}') ? 'map' : 'one';
  const typeName = card === 'one' ? bare : bare.slice(0, -2);
  if (scalars.has(typeName)) return { card, type: typeName as ScalarType | SpecialType };
  if (!typeName.includes('.')) throw new Error(`protobuf schema ${where}: unknown type ${typeName}`);
  return { card, type: { message: typeName } };
}

/** A kind served in protobuf: its apiVersion and kind, and the message of its objects. */
export interface KindDef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly message: string;
}

/** What one group-version file contributes. */
export interface GroupVersionSchema {
  readonly messages: readonly MessageDef[];
  readonly kinds: readonly KindDef[];
}

/**
 * A kind and its list kind: `<Kind>List` is `{metadata = 1 (ListMeta), items = 2 (repeated <Kind>)}`
 * for every kind of the API.
 */
export function kindWithList(apiVersion: string, kind: string, messageName: string): { readonly kinds: readonly KindDef[]; readonly list: MessageDef } {
  const listMessage = `${messageName}List`;
  return {
    kinds: [
      { apiVersion, kind, message: messageName },
      { apiVersion, kind: `${kind}List`, message: listMessage },
    ],
    list: message(listMessage, { metadata: [1, 'meta.v1.ListMeta'], items: [2, `${messageName}[]`] }),
  };
}

/**
 * Builds a group-version schema from its messages and `[kind, message]` pairs (list kinds added),
 * and the kinds that exist only as subresource bodies (`[kind, message]`, no list: autoscaling/v1
 * Scale, core/v1 Binding).
 */
export function groupVersion(
  apiVersion: string,
  messages: readonly MessageDef[],
  kinds: ReadonlyArray<readonly [string, string]>,
  subresourceKinds: ReadonlyArray<readonly [string, string]> = [],
): GroupVersionSchema {
  const withLists = kinds.map(([kind, name]) => kindWithList(apiVersion, kind, name));
  const bare = subresourceKinds.map(([kind, name]) => ({ apiVersion, kind, message: name }));
  return { messages: [...messages, ...withLists.map((k) => k.list)], kinds: [...withLists.flatMap((k) => k.kinds), ...bare] };
}
