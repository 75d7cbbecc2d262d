import { readFile, rename, writeFile } from 'node:fs/promises';
import { isObject } from './object.js';
import type { StoreSnapshot } from './store.js';

/** Reads a snapshot written by `saveSnapshot`; undefined when the file does not exist. */
export async function loadSnapshot(path: string): Promise<StoreSnapshot | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e: unknown) {
    if (isObject(e) && e.code === 'ENOENT') return undefined;
    throw e;
  }
  const parsed: unknown = JSON.parse(text);
  if (!isObject(parsed) || typeof parsed.rv !== 'number' || !isObject(parsed.objects)) {
    throw new Error(`${path}: not a sandbox API server state file`);
  }
  return parsed as unknown as StoreSnapshot;
}

/** Writes a snapshot atomically (temp file + rename), so a crash never leaves half a file. */
export async function saveSnapshot(path: string, snapshot: StoreSnapshot): Promise<void> {
  const tmp = `${path}.${String(process.pid)}.tmp`;
  await writeFile(tmp, JSON.stringify(snapshot));
  await rename(tmp, path);
}
