// The NDP fast path's decision, pure: no socket, no lock, no allocation. afpacket.c calls it
// from the receiver thread of an NDP socket; the addon also exports it (decideNdp) so unit tests
// feed it the same packet fixtures as the TypeScript responder (src/layer2/responder.ts
// respondNdp) and the two cannot drift.
#ifndef IRONLB_NDP_FAST_PATH_H
#define IRONLB_NDP_FAST_PATH_H
#include <stddef.h>
#include <stdint.h>

// Ethernet (14) + IPv6 (40) + NA (24) + target link-layer address option (8).
#define NA_FRAME_LEN 86

typedef enum {
  // Not for the fast path (not a valid Neighbor Solicitation, a DAD probe, an advertisement):
  // JavaScript decides and counts it by reason.
  NDP_FAST_TO_JS = 0,
  // A valid solicitation for an address not in the table: counted and dropped.
  NDP_FAST_NOT_OWNED = 1,
  // A valid solicitation for table[*index]: `reply` holds the answer.
  NDP_FAST_REPLY = 2,
} ndp_fast_t;

// Looks the 16-byte `ip` up in `table` (n addresses of 16 bytes, sorted by memcmp); -1 when absent.
long ndp_fast_find(const uint8_t *table, size_t n, const uint8_t *ip);

// Decides one received frame against the owned IPv6 `table` (sorted by memcmp) and the
// interface `mac`. On NDP_FAST_REPLY, writes the NA_FRAME_LEN-byte advertisement to `reply` and
// the table index of the answered address to `*index`.
ndp_fast_t ndp_fast_decide(const uint8_t *frame, size_t len, const uint8_t *table, size_t n, const uint8_t mac[6],
                           uint8_t reply[NA_FRAME_LEN], size_t *index);

#endif
