import type { Logger } from 'pino';
import { backoffDelay, type BackoffPolicy } from '../shared/backoff.js';
import type { Clock } from '../shared/clock.js';
import type { Result } from '../shared/result.js';
import type { SpeakerReadiness } from './readiness.js';

/**
 * Why the kernel refused a packet socket: `noCapability` (EPERM/EACCES: the process lacks
 * CAP_NET_RAW, which it cannot gain while it runs), or `failed` for anything else (a resource
 * short now, the addon missing), which a later try may get past.
 */
export interface PacketSocketRefusal {
  readonly kind: 'noCapability' | 'failed';
  /** What the kernel or the addon said. */
  readonly detail: string;
}

/** Dependencies of {@link waitForPacketSockets}. */
export interface PacketSocketGateDeps {
  /** Opens and closes one packet socket (sys/af-packet.ts through cli/). */
  readonly tryOpen: () => Result<void, PacketSocketRefusal>;
  readonly readiness: SpeakerReadiness;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly backoff: BackoffPolicy;
  /** 0 <= r < 1, for the backoff's jitter. */
  readonly random: () => number;
}

/** Retries from 1 s, doubling to 30 s: cheap (one socket() call), and quick once a fix lands. */
export const packetSocketBackoff: BackoffPolicy = { baseMs: 1000, maxMs: 30_000, jitter: 0.2 };

/** The not-ready message (for /readyz and the log line): what failed, and whether a retry can help. Pure. */
export function packetSocketsMessage(refusal: PacketSocketRefusal): string {
  if (refusal.kind === 'noCapability') {
    return `cannot open AF_PACKET sockets: no CAP_NET_RAW (${refusal.detail}); a capability cannot appear while the process runs: add NET_RAW to the container's securityContext.capabilities and restart it (retrying meanwhile)`;
  }
  return `cannot open AF_PACKET sockets: ${refusal.detail} (retrying with back-off: it may succeed later)`;
}

/**
 * Holds the speaker back until the kernel lets it open packet sockets, retrying with back-off;
 * meanwhile the speaker is not ready for `packetSocketsFailed` (its /readyz, one log line and
 * `ironlb_speaker_not_ready`). Nothing else runs before this returns: a speaker that cannot
 * answer ARP/NDP must not take a Lease, or peers would elect it and its IPs would go dark.
 * Resolves true once a socket opened, false when `signal` aborted first.
 */
export async function waitForPacketSockets(deps: PacketSocketGateDeps, signal: AbortSignal): Promise<boolean> {
  for (let attempt = 0; !signal.aborted; attempt++) {
    const opened = deps.tryOpen();
    if (opened.ok) {
      deps.readiness.clear('packetSocketsFailed');
      return true;
    }
    deps.readiness.fail('packetSocketsFailed', packetSocketsMessage(opened.error));
    const delay = backoffDelay(deps.backoff, attempt, deps.random());
    deps.logger.debug({ event: 'packetSocketsRetry', kind: opened.error.kind, retryInMs: delay }, 'packet sockets refused; retrying');
    const slept = await deps.clock.sleep(delay, signal).then(() => true, () => false);
    if (!slept) break;
  }
  return false;
}
