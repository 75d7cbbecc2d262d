import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';

/** Why a speaker is not ready: each is a job it cannot do. */
export type NotReadyReason = 'cachesNotSynced' | 'interfacesUnreadable' | 'packetSocketsFailed';

const reasons: readonly NotReadyReason[] = ['cachesNotSynced', 'interfacesUnreadable', 'packetSocketsFailed'];

/**
 * The speaker's readiness, told truthfully: `/readyz` (through {@link SpeakerReadiness.notReadyReason}),
 * one log line per change, and `ironlb_speaker_not_ready{reason}` (1 while that reason holds).
 */
export interface SpeakerReadiness {
  /** Records that `reason` holds, with a message for users (logged once when it starts to hold). */
  fail(reason: NotReadyReason, message: string): void;
  /** Records that `reason` no longer holds. */
  clear(reason: NotReadyReason): void;
  /** The reasons that hold, in one line for the /readyz body, or undefined when ready. */
  notReadyReason(): string | undefined;
}

/** Dependencies of {@link createSpeakerReadiness}. */
export interface SpeakerReadinessDeps {
  readonly registry: Registry;
  readonly logger: Logger;
}

/** Creates the readiness record; every reason starts cleared except what the caller fails. */
export function createSpeakerReadiness(deps: SpeakerReadinessDeps): SpeakerReadiness {
  const gauge = new Gauge({ name: 'ironlb_speaker_not_ready', help: '1 while the speaker is not ready for this reason', labelNames: ['reason'], registers: [deps.registry] });
  // reason -> message, for the reasons that hold now
  const holding = new Map<NotReadyReason, string>();
  for (const r of reasons) gauge.set({ reason: r }, 0);
  return {
    fail(reason, message) {
      const before = holding.get(reason);
      holding.set(reason, message);
      gauge.set({ reason }, 1);
      if (before !== message) deps.logger.warn({ event: 'speakerNotReady', reason, detail: message }, `speaker not ready: ${message}`);
    },
    clear(reason) {
      if (!holding.delete(reason)) return;
      gauge.set({ reason }, 0);
      deps.logger.info({ event: 'speakerReadyAgain', reason }, `speaker recovered: ${reason}`);
    },
    notReadyReason() {
      return holding.size === 0 ? undefined : [...holding.values()].join('; ');
    },
  };
}
