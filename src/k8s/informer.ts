import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { backoffDelay, defaultBackoff, type BackoffPolicy } from '../shared/backoff.js';
import type { Clock } from '../shared/clock.js';
import { httpStatusOf, isAbortError } from './client.js';

/** A change seen by an informer. Handlers must only enqueue work (client-node does not await them). */
export type ChangeKind = 'add' | 'update' | 'delete';

export interface InformerDeps<T extends k8s.KubernetesObject> {
  readonly kubeConfig: k8s.KubeConfig;
  /** The watch path, e.g. `/api/v1/services` or `/api/v1/namespaces/ns/configmaps`. */
  readonly path: string;
  /** Lists the same objects as `path` (client-node relists through it after a 410). */
  readonly list: () => Promise<k8s.KubernetesListObject<T>>;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly backoff?: BackoffPolicy;
  readonly random?: () => number;
  readonly onChange: (kind: ChangeKind, obj: T) => void;
  /** Called when the watch is lost or back (see {@link Informer.lostAt}). */
  readonly onHealthChange?: () => void;
}

/** A list+watch cache that survives API errors (client-node's ListWatch stops on any error but 410). */
export interface Informer<T> {
  list(): readonly T[];
  get(name: string, namespace?: string): T | undefined;
  /** True once the first list has completed and its watch opened. */
  hasSynced(): boolean;
  /** Resolves when synced (or when `run` stops before it ever synced). */
  readonly synced: Promise<void>;
  /**
   * The local time (Clock.now()) at which the watch failed, while it is down and the cache may
   * be stale; undefined while watching. A relist and a fresh watch clear it.
   */
  lostAt(): number | undefined;
  /** Lists, watches and restarts with capped backoff until `signal` aborts; settles when stopped. */
  run(signal: AbortSignal): Promise<void>;
}

function waitForErrorOrAbort(signal: AbortSignal, setWake: (wake: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    setWake(done);
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
  });
}

/** Creates an informer; nothing is requested until `run` is called. */
export function createInformer<T extends k8s.KubernetesObject>(deps: InformerDeps<T>): Informer<T> {
  const lw = new k8s.ListWatch<T>(deps.path, new k8s.Watch(deps.kubeConfig), deps.list, false, deps.labelSelector, deps.fieldSelector);
  const policy = deps.backoff ?? defaultBackoff;
  const random = deps.random ?? Math.random;
  const log = deps.logger.child({ informer: deps.path });
  let synced = false;
  let lostAt: number | undefined;
  const setLostAt = (t: number | undefined): void => {
    if (t === lostAt) return;
    lostAt = t;
    deps.onHealthChange?.();
  };
  let resolveSynced: () => void = () => undefined;
  const syncedPromise = new Promise<void>((resolve) => {
    resolveSynced = resolve;
  });
  lw.on('add', (o) => { deps.onChange('add', o); });
  lw.on('update', (o) => { deps.onChange('update', o); });
  lw.on('delete', (o) => { deps.onChange('delete', o); });

  return {
    list: () => lw.list(),
    get: (name, namespace) => lw.get(name, namespace),
    hasSynced: () => synced,
    synced: syncedPromise,
    lostAt: () => lostAt,
    async run(signal) {
      // Written by the error callback, read by the loop (an object, so the narrowing stays honest).
      const state: { failure: unknown; wake: () => void } = { failure: undefined, wake: () => undefined };
      lw.on('error', (e: unknown) => {
        if (signal.aborted && isAbortError(e)) return;
        state.failure = e ?? new Error('watch failed');
        setLostAt(lostAt ?? deps.clock.now());
        state.wake();
      });
      // A function, not a property read: TypeScript would otherwise narrow `aborted` to false in the loop.
      const stopped = (): boolean => signal.aborted;
      let attempt = 0;
      while (!stopped()) {
        state.failure = undefined;
        await lw.start();
        if (state.failure === undefined) {
          if (!synced) log.debug({ event: 'informerSynced', objects: lw.list().length }, 'informer synced');
          synced = true;
          resolveSynced();
          setLostAt(undefined);
          attempt = 0;
          await waitForErrorOrAbort(signal, (w) => { state.wake = w; });
        }
        if (stopped()) break;
        const delay = backoffDelay(policy, attempt++, random());
        log.warn({ event: 'informerRestart', status: httpStatusOf(state.failure), err: state.failure, delayMs: delay }, 'watch failed; restarting after backoff');
        await deps.clock.sleep(delay, signal).catch(() => undefined);
      }
      await lw.stop();
      resolveSynced();
    },
  };
}
