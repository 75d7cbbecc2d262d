/** Bounds-safe reads: a byte past the end reads as 0 (callers check lengths first). */

/** The byte at `i`, or 0 past the end. */
export function u8(b: Uint8Array, i: number): number {
  return b[i] ?? 0;
}

/** The big-endian 16-bit value at `i`. */
export function u16(b: Uint8Array, i: number): number {
  return (u8(b, i) << 8) | u8(b, i + 1);
}

/** Whether `b` holds exactly `expected` starting at `offset`. */
export function hasBytes(b: Uint8Array, offset: number, expected: readonly number[]): boolean {
  return expected.every((x, i) => b[offset + i] === x);
}
