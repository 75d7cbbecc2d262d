import type { RequestAttributes, RequestVerb } from './admission.js';
import { ApiStatusError, type StatusReason } from './status.js';
import type { Store } from './store.js';

/** An injected failure: answer `code` to a share `rate` of matching requests. */
export interface FailureRule {
  /** 429, 500 or 503. */
  readonly code: number;
  /** 0..1; 1 fails every matching request. */
  readonly rate: number;
  /** Only these verbs (all when absent). */
  readonly verbs?: readonly RequestVerb[];
  /** Only requests of this user (all when absent). */
  readonly user?: string;
}

/**
 * Watch streams that go silent: open, but delivering no event and no BOOKMARK, as behind a
 * proxy or load balancer that holds a half-dead connection. The client is not told; it keeps
 * a stale cache (a split brain for a speaker that stops seeing its peers' Lease renewals).
 */
export interface WatchStall {
  /** Only watches of this user. */
  readonly user: string;
  /** Only watches of this resource (plural, e.g. `leases`); all when absent. */
  readonly resource?: string;
}

/** Fault injection, for reliability tests: latency, failures, stalled or cut watches, compaction. */
export interface FaultSwitch {
  /** Added before every API request is handled. */
  latencyMs: number;
  fail: FailureRule | undefined;
  /** Watches to keep silent while set; clearing it resumes nothing by itself: cut them ({@link closeWatches}) so their clients resume and catch up. */
  stallWatches: WatchStall | undefined;
  /** Ends every open watch stream now (clients see the connection close mid-stream). */
  closeWatches(): void;
  /** Forgets the watch history, so resuming from an older resourceVersion gets 410 Gone. */
  compact(): void;
}

/** Whether a failure rule applies to a request. `random` is injectable for tests. */
export function shouldFail(rule: FailureRule | undefined, attrs: RequestAttributes, random: () => number): boolean {
  if (rule === undefined) return false;
  if (rule.verbs !== undefined && !rule.verbs.includes(attrs.verb)) return false;
  if (rule.user !== undefined && rule.user !== attrs.user) return false;
  return random() < rule.rate;
}

/** Whether a watch of `attrs` is silenced by `stall`. */
export function watchStalled(stall: WatchStall | undefined, attrs: RequestAttributes): boolean {
  return stall !== undefined && stall.user === attrs.user && (stall.resource === undefined || stall.resource === attrs.resource);
}

/** One request as the log keeps it. */
export interface LoggedRequest extends RequestAttributes {
  /** Date.now() when it arrived. */
  readonly at: number;
  readonly code: number;
  /** The request body's media type ('' without a body): shows which clients send protobuf. */
  readonly contentType: string;
}

/** Counts every API request by user, verb and resource, and keeps the most recent ones. */
export class RequestLog {
  private readonly recent: LoggedRequest[] = [];
  private readonly byKey = new Map<string, number>();
  private count = 0;
  // watch events (ADDED/MODIFIED/DELETED, not BOOKMARK) written to watch streams, all watchers together
  private watchEventCount = 0;

  constructor(private readonly keep = 10_000) {}

  record(entry: LoggedRequest): void {
    this.count += 1;
    const key = `${entry.user} ${entry.verb} ${entry.resource}${entry.subresource === '' ? '' : `/${entry.subresource}`}`;
    this.byKey.set(key, (this.byKey.get(key) ?? 0) + 1);
    this.recent.push(entry);
    if (this.recent.length > this.keep * 2) this.recent.splice(0, this.recent.length - this.keep);
  }

  /** Counts one watch event written to one stream: the fan-out cost the scale benchmark reports. */
  watchEventSent(): void {
    this.watchEventCount += 1;
  }

  /** Watch events (not BOOKMARKs) written to all watch streams since start (or the last reset). */
  watchEvents(): number {
    return this.watchEventCount;
  }

  /** Requests since start (or the last reset). */
  total(): number {
    return this.count;
  }

  /** "user verb resource[/sub]" -> count. */
  counts(): ReadonlyMap<string, number> {
    return this.byKey;
  }

  /** The most recent requests, oldest first. */
  entries(): readonly LoggedRequest[] {
    return this.recent;
  }

  reset(): void {
    this.count = 0;
    this.watchEventCount = 0;
    this.byKey.clear();
    this.recent.length = 0;
  }
}

/** The reasons kube-apiserver gives with the codes a failure rule may inject. */
export const failReasons: Readonly<Record<number, StatusReason>> = { 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable' };

/** The fault switch of one server: it cuts the given open watch streams and compacts the store. */
export function createFaults(store: Store, watches: Set<() => void>): FaultSwitch {
  return {
    latencyMs: 0,
    fail: undefined,
    stallWatches: undefined,
    closeWatches() {
      for (const close of [...watches]) close();
    },
    compact() {
      store.compact();
    },
  };
}

/** Applies the switch to one request: waits the injected latency, then throws the injected failure if the rule hits. */
export async function injectFaults(faults: FaultSwitch, attrs: RequestAttributes, random: () => number): Promise<void> {
  if (faults.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.latencyMs));
  const rule = faults.fail;
  if (rule !== undefined && shouldFail(rule, attrs, random)) {
    throw new ApiStatusError(failReasons[rule.code] ?? 'InternalError', `injected fault: ${String(rule.code)}`);
  }
}
