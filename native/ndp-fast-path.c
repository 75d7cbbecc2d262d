// The NDP fast path's decision (see ndp-fast-path.h). Mirrors respondNdp in
// src/layer2/responder.ts (and parseNeighborSolicitation / buildSolicitedAdvertisement in
// src/layer2/packet/ndp.ts) for the solicitations it answers or drops; everything else (DAD
// probes for owned addresses included) goes to JS.
#include "ndp-fast-path.h"
#include <string.h>

#define ETH_LEN 14
#define IP6_LEN 40
#define ICMP_AT (ETH_LEN + IP6_LEN)
// ICMPv6 type, code, checksum, reserved/flags and target: 24 bytes before the options.
#define ND_FIXED 24

long ndp_fast_find(const uint8_t *table, size_t n, const uint8_t *ip) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = memcmp(table + 16 * mid, ip, 16);
    if (c == 0) return (long)mid;
    if (c < 0) lo = mid + 1; else hi = mid;
  }
  return -1;
}

// The Internet checksum of `icmp` (len bytes) with the IPv6 pseudo-header (RFC 4443 2.3).
static uint16_t icmpv6_checksum(const uint8_t *src, const uint8_t *dst, const uint8_t *icmp, size_t len) {
  uint32_t sum = (uint32_t)len + 58;
  for (size_t i = 0; i < 16; i += 2) sum += ((uint32_t)src[i] << 8 | src[i + 1]) + ((uint32_t)dst[i] << 8 | dst[i + 1]);
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)icmp[i] << 8 | icmp[i + 1];
  if (len % 2) sum += (uint32_t)icmp[len - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

// Walks the options (RFC 4861 4.6): 0 when one is malformed (a zero length, or past the end),
// else 1, with *sllao the last source link-layer address option of 8 bytes (NULL when none).
static int read_options(const uint8_t *opt, size_t len, const uint8_t **sllao) {
  *sllao = NULL;
  for (size_t at = 0; at < len;) {
    if (at + 2 > len) return 0;
    size_t units = opt[at + 1];
    if (units == 0 || at + units * 8 > len) return 0;
    if (opt[at] == 1 && units == 1) *sllao = opt + at + 2;
    at += units * 8;
  }
  return 1;
}

static int all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0) return 0;
  return 1;
}

// A solicited advertisement (RFC 4861 7.2.4) from the target address, as the kernel sends for its
// own addresses, to the soliciter: to its source link-layer option, else to the frame's Ethernet
// source (unicast NUD probes, MetalLB #2920); solicited and override set, target option = mac.
static void build_advertisement(const uint8_t *f, const uint8_t *sllao, const uint8_t mac[6], uint8_t r[NA_FRAME_LEN]) {
  const uint8_t *target = f + ICMP_AT + 8;
  memcpy(r, sllao != NULL ? sllao : f + 6, 6);
  memcpy(r + 6, mac, 6);
  r[12] = 0x86; r[13] = 0xdd;
  r[14] = 0x60; r[15] = 0; r[16] = 0; r[17] = 0;
  r[18] = 0; r[19] = ND_FIXED + 8; // payload length
  r[20] = 58; r[21] = 255;         // ICMPv6, hop limit 255
  memcpy(r + 22, target, 16);      // source: the target address
  memcpy(r + 38, f + 22, 16);      // destination: the soliciter
  uint8_t *icmp = r + ICMP_AT;
  memset(icmp, 0, ND_FIXED + 8);
  icmp[0] = 136;
  icmp[4] = 0x40 | 0x20;           // solicited, override
  memcpy(icmp + 8, target, 16);
  icmp[24] = 2; icmp[25] = 1;      // target link-layer address option
  memcpy(icmp + 26, mac, 6);
  uint16_t sum = icmpv6_checksum(r + 22, r + 38, icmp, ND_FIXED + 8);
  icmp[2] = (uint8_t)(sum >> 8);
  icmp[3] = (uint8_t)sum;
}

ndp_fast_t ndp_fast_decide(const uint8_t *f, size_t len, const uint8_t *table, size_t n, const uint8_t mac[6],
                           uint8_t r[NA_FRAME_LEN], size_t *index) {
  if (len < ICMP_AT + ND_FIXED) return NDP_FAST_TO_JS;
  // IPv6, ICMPv6 as the first next header, a Neighbor Solicitation, hop limit 255 (RFC 4861 7.1.1).
  if (f[12] != 0x86 || f[13] != 0xdd || (f[14] >> 4) != 6 || f[20] != 58 || f[ICMP_AT] != 135 || f[21] != 255)
    return NDP_FAST_TO_JS;
  size_t payload = (size_t)f[18] << 8 | f[19];
  if (payload < ND_FIXED || ICMP_AT + payload > len) return NDP_FAST_TO_JS;
  const uint8_t *icmp = f + ICMP_AT;
  if (icmpv6_checksum(f + 22, f + 38, icmp, payload) != 0) return NDP_FAST_TO_JS;
  const uint8_t *sllao;
  // Code 0, a target that is not multicast, well-formed options.
  if (icmp[1] != 0 || icmp[8] == 0xff || !read_options(icmp + ND_FIXED, payload - ND_FIXED, &sllao)) return NDP_FAST_TO_JS;
  long i = ndp_fast_find(table, n, icmp + 8);
  if (all_zero(f + 22, 16)) {
    // A DAD probe (source ::) is valid only to a solicited-node group and without a source
    // link-layer option. One for another address is dropped here; one for an owned address is
    // answered to ff02::1 by JS (rare: another host trying to configure it).
    static const uint8_t solicited[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
    int valid = memcmp(f + 38, solicited, sizeof solicited) == 0 && sllao == NULL;
    return valid && i < 0 ? NDP_FAST_NOT_OWNED : NDP_FAST_TO_JS;
  }
  if (i < 0) return NDP_FAST_NOT_OWNED;
  build_advertisement(f, sllao, mac, r);
  *index = (size_t)i;
  return NDP_FAST_REPLY;
}
