// The ARP fast path's decision (see arp-fast-path.h). Mirrors respondArp in
// src/layer2/responder.ts for the requests it answers or drops; everything else goes to JS.
#include "arp-fast-path.h"
#include <string.h>

long arp_fast_find(const uint32_t *table, size_t n, uint32_t ip) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (table[mid] == ip) return (long)mid;
    if (table[mid] < ip) lo = mid + 1; else hi = mid;
  }
  return -1;
}

static uint32_t read_ipv4(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

// A group (multicast or broadcast) or all-zero MAC: no host has it.
static int bad_mac(const uint8_t *mac) {
  static const uint8_t zero[6] = {0, 0, 0, 0, 0, 0};
  return (mac[0] & 1) || memcmp(mac, zero, 6) == 0;
}

arp_fast_t arp_fast_decide(const uint8_t *f, size_t len, const uint32_t *table, size_t n, const uint8_t mac[6],
                           uint8_t r[ARP_FRAME_LEN], size_t *index) {
  if (len < ARP_FRAME_LEN) return ARP_FAST_TO_JS;
  // Ethernet type ARP, htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4, op 1 (request); RFC 826.
  if (f[12] != 0x08 || f[13] != 0x06 || f[14] != 0 || f[15] != 1 || f[16] != 0x08 || f[17] != 0 ||
      f[18] != 6 || f[19] != 4 || f[20] != 0 || f[21] != 1)
    return ARP_FAST_TO_JS;
  // Senders that cannot be a host (group or zero MACs in the Ethernet header or the ARP body,
  // multicast/broadcast sender IPs 224.0.0.0 and up): JS drops and counts them as badSender.
  if (bad_mac(f + 6) || bad_mac(f + 22) || f[28] >= 224) return ARP_FAST_TO_JS;
  // A request whose sender IP we own (another node's gratuitous ARP): JS counts a conflict.
  if (arp_fast_find(table, n, read_ipv4(f + 28)) >= 0) return ARP_FAST_TO_JS;
  long i = arp_fast_find(table, n, read_ipv4(f + 38));
  if (i < 0) return ARP_FAST_NOT_OWNED;
  memcpy(r, f + 22, 6);     // to the requester's hardware address
  memcpy(r + 6, mac, 6);    // from our MAC
  r[12] = 0x08; r[13] = 0x06;
  r[14] = 0; r[15] = 1; r[16] = 0x08; r[17] = 0; r[18] = 6; r[19] = 4;
  r[20] = 0; r[21] = 2;     // reply
  memcpy(r + 22, mac, 6);   // sender hardware address: ours
  memcpy(r + 28, f + 38, 4);// sender protocol address: the owned IP
  memcpy(r + 32, f + 22, 6);// target hardware address: the requester
  memcpy(r + 38, f + 28, 4);// target protocol address: the requester's (0.0.0.0 for RFC 5227 probes)
  *index = (size_t)i;
  return ARP_FAST_REPLY;
}
