import { Counter, type Registry } from 'prom-client';

/** The layer2 counters, registered on an injected Registry (never the default one). */
export interface Layer2Metrics {
  /** Gratuitous ARP pairs / unsolicited NAs sent, by ip and interface. */
  readonly gratuitousSent: Counter<'ip' | 'interface'>;
  /** ARP requests / NS received for an owned IP, by ip and interface. */
  readonly requestsReceived: Counter<'ip' | 'interface'>;
  /** ARP replies / NAs sent, by ip and interface. */
  readonly responsesSent: Counter<'ip' | 'interface'>;
  /** Frames not answered, by reason and interface (not by ip: a flood would create unbounded series). */
  readonly drops: Counter<'reason' | 'interface'>;
  /** Answers the kernel refused to send (a full socket buffer, a link going down), by interface. */
  readonly sendErrors: Counter<'interface'>;
  /** Times the XDP responder was asked for and AF_PACKET answered instead, by reason (noCapability, noProgram, kernel, attach). */
  readonly xdpFallbacks: Counter<'reason'>;
  /** ARP probes / DAD solicitations sent before announcing an address (RFC 5227, RFC 4862), by interface. */
  readonly probesSent: Counter<'interface'>;
}

/** Creates and registers the ironlb_layer2_* counters on `registry`. */
export function createLayer2Metrics(registry: Registry): Layer2Metrics {
  const registers = [registry];
  return {
    gratuitousSent: new Counter({ name: 'ironlb_layer2_gratuitous_sent_total', help: 'Gratuitous ARP announcements and unsolicited Neighbor Advertisements sent.', labelNames: ['ip', 'interface'], registers }),
    requestsReceived: new Counter({ name: 'ironlb_layer2_requests_received_total', help: 'ARP requests and Neighbor Solicitations received for owned addresses.', labelNames: ['ip', 'interface'], registers }),
    responsesSent: new Counter({ name: 'ironlb_layer2_responses_sent_total', help: 'ARP replies and Neighbor Advertisements sent in answer.', labelNames: ['ip', 'interface'], registers }),
    drops: new Counter({ name: 'ironlb_layer2_drops_total', help: 'Received frames not answered, by reason.', labelNames: ['reason', 'interface'], registers }),
    sendErrors: new Counter({ name: 'ironlb_layer2_send_errors_total', help: 'Answers the kernel refused to send (native fast path).', labelNames: ['interface'], registers }),
    xdpFallbacks: new Counter({ name: 'ironlb_layer2_xdp_fallbacks_total', help: 'Times --layer2-mode xdp fell back to AF_PACKET (at start, or on one interface), by reason.', labelNames: ['reason'], registers }),
    probesSent: new Counter({ name: 'ironlb_layer2_probes_sent_total', help: 'ARP probes and DAD Neighbor Solicitations sent to check that no other host uses an address.', labelNames: ['interface'], registers }),
  };
}
