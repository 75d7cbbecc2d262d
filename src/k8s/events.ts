import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { createAlarm } from '../shared/alarm.js';
import type { Clock } from '../shared/clock.js';
import type { EventRecorder, EventType, ObjectRef } from '../shared/event-sink.js';
import { httpStatusOf, type KubeRest } from './kube-rest.js';

/** The one call the recorder makes; client-node's CoreV1Api has it, and {@link restEventApi} makes it over the speaker's small client. */
export interface EventApi {
  createNamespacedEvent(param: { readonly namespace: string; readonly body: k8s.CoreV1Event }): Promise<unknown>;
}

/** {@link EventApi} over kube-rest.ts (the speaker). */
export function restEventApi(rest: KubeRest): EventApi {
  return {
    createNamespacedEvent: ({ namespace, body }) => rest.request('POST', `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, body),
  };
}

export interface EventRecorderDeps {
  readonly core: EventApi;
  readonly clock: Clock;
  readonly logger: Logger;
  /** `reportingComponent`/`source.component`, e.g. `ironlb-controller`. */
  readonly component: string;
  /** `reportingInstance`/`source.host`, e.g. the pod or node name. */
  readonly instance: string;
  /** Pending writes kept at most; beyond it the oldest are dropped (and logged). */
  readonly maxPending?: number;
}

interface PendingEvent {
  readonly ref: ObjectRef;
  readonly type: EventType;
  readonly reason: string;
  readonly message: string;
  readonly at: Date;
}

/** Events longer than this are cut, as the API server refuses messages over 1 KiB in events.k8s.io. */
const maxMessageLength = 1024;

/**
 * The Event's name: the object's name, the time and a per-recorder sequence (client-go uses
 * `name.<UnixNano hex>`), plus 8 hex digits of the reporting instance's hash. Without these, two
 * processes reporting on one object in the same millisecond with equal sequence numbers (two
 * speakers that see each other's frames, a split brain) wrote the same name, and the second
 * Event was refused with 409 AlreadyExists.
 */
function eventName(e: PendingEvent, instanceTag: string, seq: number): string {
  return `${e.ref.name}.${e.at.getTime().toString(16)}${instanceTag}${seq.toString(16)}`;
}

function toV1Event(e: PendingEvent, deps: EventRecorderDeps, name: string): k8s.CoreV1Event {
  const namespace = e.ref.namespace ?? 'default';
  return {
    metadata: { name, namespace },
    involvedObject: {
      apiVersion: e.ref.apiVersion,
      kind: e.ref.kind,
      name: e.ref.name,
      namespace,
      ...(e.ref.uid === undefined ? {} : { uid: e.ref.uid }),
    },
    type: e.type,
    reason: e.reason,
    message: e.message.length > maxMessageLength ? `${e.message.slice(0, maxMessageLength - 3)}...` : e.message,
    source: { component: deps.component, host: deps.instance },
    reportingComponent: deps.component,
    reportingInstance: deps.instance,
    firstTimestamp: e.at,
    lastTimestamp: e.at,
    count: 1,
    action: e.reason,
  };
}

/** An EventRecorder that writes core/v1 Events (what `kubectl describe` shows); nothing is written until `run` is called. */
export function createEventRecorder(deps: EventRecorderDeps): EventRecorder {
  const log = deps.logger.child({ component: 'events' });
  const maxPending = deps.maxPending ?? 1000;
  const queue: PendingEvent[] = [];
  const alarm = createAlarm({ clock: deps.clock });
  let seq = 0;
  const instanceTag = createHash('sha256').update(deps.instance).digest('hex').slice(0, 8);

  const write = async (e: PendingEvent): Promise<void> => {
    const body = toV1Event(e, deps, eventName(e, instanceTag, seq++));
    try {
      await deps.core.createNamespacedEvent({ namespace: body.metadata.namespace ?? 'default', body });
    } catch (err: unknown) {
      log.warn({ event: 'eventWriteFailed', status: httpStatusOf(err), reason: e.reason, object: `${e.ref.kind} ${e.ref.namespace ?? ''}/${e.ref.name}`, err }, 'could not write Event');
    }
  };

  return {
    emit(ref, type, reason, message) {
      if (queue.length >= maxPending) {
        const dropped = queue.shift();
        log.warn({ event: 'eventDropped', reason: dropped?.reason }, 'too many pending Events; dropped the oldest');
      }
      queue.push({ ref, type, reason, message, at: deps.clock.wallTime() });
      alarm.ring();
    },
    async run(signal) {
      for (;;) {
        alarm.arm();
        const next = queue.shift();
        if (next !== undefined) {
          await write(next);
          continue;
        }
        if (signal.aborted) return;
        await alarm.wait(signal);
      }
    },
  };
}
