import { readFile, rename, writeFile } from 'node:fs/promises';
import { isObject } from './object.js';
import type { Logger } from 'pino';
import type { Admission } from './admission.js';
import type { Store, StoreSnapshot } from './store.js';

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

/** The namespaces every cluster starts with. */
const initialNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/**
 * Fills a new store: from the state file when there is one (and replays it through the admission
 * hooks, which rebuild their indexes), else with the namespaces every cluster starts with.
 */
export async function restoreState(store: Store, admission: ReadonlyMap<string, Admission>, statePath: string | undefined): Promise<void> {
  const snapshot = statePath === undefined ? undefined : await loadSnapshot(statePath);
  if (snapshot === undefined) {
    for (const name of initialNamespaces) store.create('/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name }, status: { phase: 'Active' } });
    return;
  }
  store.restore(snapshot);
  for (const [storage, hooks] of admission) {
    for (const obj of store.list(storage, undefined)) hooks.restored(obj);
  }
}

/** Saves the store after writes. */
export interface Saver {
  /** Called on every write: schedules a save. */
  readonly schedule: () => void;
  /** Writes any pending save and waits for it. */
  flush(): Promise<void>;
}

/** Debounced persistence: at most one write per 200 ms, and a final one at flush. No path: saves nothing. */
export function createSaver(store: Store, path: string | undefined, logger: Logger | undefined): Saver {
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  const save = (): void => {
    timer = undefined;
    if (path === undefined) return;
    const snapshot = store.snapshot();
    chain = chain.then(() => saveSnapshot(path, snapshot)).catch((e: unknown) => {
      logger?.error({ event: 'stateSaveFailed', err: e, path }, 'could not save the sandbox API server state');
    });
  };
  return {
    schedule() {
      if (path !== undefined && timer === undefined) timer = setTimeout(save, 200);
    },
    async flush() {
      if (timer !== undefined) {
        clearTimeout(timer);
        save();
      }
      await chain;
    },
  };
}
