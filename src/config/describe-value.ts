/** The longest quoted value a message repeats; longer ones are cut, so messages stay one line. */
const maxQuoted = 80;

/** Quotes a string for a message: JSON escaping (one line), cut when long. */
export function quote(text: string): string {
  const cut = text.length > maxQuoted ? `${text.slice(0, maxQuoted)}...` : text;
  return JSON.stringify(cut);
}

/** Names the type of a wire value and shows it, e.g. `number 10`, `a list`, `null`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return `string ${quote(value)}`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${String(value)}`;
    case 'object':
      return 'a map';
    default:
      return typeof value;
  }
}
