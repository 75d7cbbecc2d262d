/** The object an Event is about. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly uid?: string;
}

export type EventType = 'Normal' | 'Warning';

/**
 * Where Events go. `emit` never blocks and never throws: the implementation queues the write
 * and logs a failure; callers emit only when something changed (MetalLB #1682: Event spam).
 */
export interface EventSink {
  emit(ref: ObjectRef, type: EventType, reason: string, message: string): void;
}

/** An EventSink that writes in the background: `run` writes queued Events until `signal` aborts, then flushes what is queued (best effort) and settles. */
export interface EventRecorder extends EventSink {
  run(signal: AbortSignal): Promise<void>;
}
