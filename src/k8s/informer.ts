import type { Logger } from 'pino';
import { backoffDelay, defaultBackoff, type BackoffPolicy } from '../shared/backoff.js';
import type { Clock } from '../shared/clock.js';
import { httpStatusOf, isAbortError } from './kube-rest.js';

/** A change seen by an informer. Handlers must only enqueue work (client-node does not await them). */
export type ChangeKind = 'add' | 'update' | 'delete';

/**
 * A list+watch cache that stops on errors other than 410: client-node's ListWatch (through
 * `clientNodeListWatch` in client.ts, for the controller and the sandbox) or `restListWatch`
 * (rest-list-watch.ts, for the speaker, which does not load client-node).
 */
export interface ListWatchSource<T> {
  on(verb: ChangeKind, cb: (obj: T) => void): void;
  /** Called when the list or the watch fails (not for 410, which relists); the source is then stopped. */
  onError(cb: (e: unknown) => void): void;
  /** Lists (reporting differences to the cache) and starts watching. Failures go to `onError`. */
  start(): Promise<void>;
  stop(): Promise<void> | void;
  list(): readonly T[];
  get(name: string, namespace?: string): T | undefined;
}

export interface InformerDeps<T> {
  /** The list+watch this informer restarts. */
  readonly source: ListWatchSource<T>;
  /** The watch path, e.g. `/api/v1/services` (for logs). */
  readonly path: string;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly backoff?: BackoffPolicy;
  readonly random?: () => number;
  readonly onChange: (kind: ChangeKind, obj: T) => void;
  /** Called when the watch is lost or back (see {@link Informer.lostAt}). */
  readonly onHealthChange?: () => void;
}

/** A time the watch was down, in local time (Clock.now()). */
export interface Gap {
  readonly from: number;
  readonly to: number;
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
  /**
   * The last gap that ended: from the local time the watch failed to the local time a relist
   * and a fresh watch ended it. Undefined until a gap has ended.
   */
  lastGap(): Gap | undefined;
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
export function createInformer<T>(deps: InformerDeps<T>): Informer<T> {
  const lw = deps.source;
  const policy = deps.backoff ?? defaultBackoff;
  const random = deps.random ?? Math.random;
  const log = deps.logger.child({ informer: deps.path });
  let synced = false;
  let lostAt: number | undefined;
  let lastGap: Gap | undefined;
  const setLostAt = (t: number | undefined): void => {
    if (t === lostAt) return;
    if (t === undefined && lostAt !== undefined) lastGap = { from: lostAt, to: deps.clock.now() };
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
    lastGap: () => lastGap,
    async run(signal) {
      // Written by the error callback, read by the loop (an object, so the narrowing stays honest).
      const state: { failure: unknown; wake: () => void } = { failure: undefined, wake: () => undefined };
      lw.onError((e: unknown) => {
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
