// The ARP fast path's decision, pure: no socket, no lock, no allocation. afpacket.c calls it
// from the receiver thread; the addon also exports it (decideArp) so unit tests feed it the
// same packet fixtures as the TypeScript responder (src/layer2/responder.ts respondArp) and
// the two cannot drift.
#ifndef IRONLB_ARP_FAST_PATH_H
#define IRONLB_ARP_FAST_PATH_H
#include <stddef.h>
#include <stdint.h>

#define ARP_FRAME_LEN 42

typedef enum {
  // Not for the fast path (not a well-formed request, a bad sender, a sender IP we own):
  // JavaScript decides and counts it by reason.
  ARP_FAST_TO_JS = 0,
  // A valid request for an address not in the table: counted and dropped.
  ARP_FAST_NOT_OWNED = 1,
  // A valid request for table[*index]: `reply` holds the answer.
  ARP_FAST_REPLY = 2,
} arp_fast_t;

// Looks `ip` (host order) up in `table` (host order, sorted ascending); -1 when absent.
long arp_fast_find(const uint32_t *table, size_t n, uint32_t ip);

// Decides one received frame against the owned IPv4 `table` (host order, sorted ascending) and
// the interface `mac`. On ARP_FAST_REPLY, writes the ARP_FRAME_LEN-byte reply to `reply` and the
// table index of the answered address to `*index`.
arp_fast_t arp_fast_decide(const uint8_t *frame, size_t len, const uint32_t *table, size_t n, const uint8_t mac[6],
                           uint8_t reply[ARP_FRAME_LEN], size_t *index);

#endif
