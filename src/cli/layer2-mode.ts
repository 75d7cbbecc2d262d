import type { Logger } from 'pino';
import type { Layer2Metrics } from '../layer2/metrics.js';
import type { NeighborOffloadFactory } from '../layer2/neighbor-offload.js';
import { createXdpOffloads } from '../sys/xdp.js';

/** `--layer2-mode` (IRONLB_LAYER2_MODE), shared by `speaker` and `announce`. */
export const layer2ModeFlag = {
  'layer2-mode': {
    type: 'string',
    default: 'af-packet',
    choices: ['af-packet', 'xdp'],
    description: 'answer ARP/NDP in an AF_PACKET socket (needs NET_RAW) or first in XDP (also needs BPF and NET_ADMIN; falls back to af-packet)',
  },
} as const;

/**
 * The XDP responder for `--layer2-mode xdp` when this process can load it; else undefined, and
 * for xdp one warning line and `ironlb_layer2_xdp_fallbacks_total{reason}`: AF_PACKET answers.
 */
export function layer2Offloads(mode: string, metrics: Layer2Metrics, logger: Logger): NeighborOffloadFactory | undefined {
  if (mode !== 'xdp') return undefined;
  const xdp = createXdpOffloads();
  if (xdp.ok) {
    logger.info({ event: 'layer2Mode', mode: 'xdp' }, 'answering ARP and NDP in XDP');
    return xdp.value;
  }
  metrics.xdpFallbacks.inc({ reason: xdp.error.reason });
  logger.warn({ event: 'xdpFallback', reason: xdp.error.reason, error: xdp.error.message, mode: 'af-packet' }, `XDP responder unavailable (${xdp.error.message}); answering through AF_PACKET`);
  return undefined;
}
