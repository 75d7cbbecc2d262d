import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/cli.js';

/** Reads a hex fixture (comment lines start with #) from test/fixtures/packets. */
export function packet(name: string): Uint8Array {
  const text = readFileSync(join(repoRoot, 'test', 'fixtures', 'packets', `${name}.hex`), 'utf8');
  return hex(text.split('\n').filter((l) => !l.startsWith('#')).join(' '));
}

/** Hex text (spaces, newlines and colons ignored) to bytes. */
export function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/[\s:]/g, ''), 'hex'));
}

/** Bytes to compact hex, for readable assertions. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
