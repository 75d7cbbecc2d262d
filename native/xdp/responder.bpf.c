// ironlb's XDP neighbor responder: answers ARP requests (RFC 826) for owned IPv4 addresses and
// Neighbor Solicitations (RFC 4861 7.2.3-7.2.4) for owned IPv6 addresses with XDP_TX, before the
// kernel builds an skb, and passes every other frame up untouched (XDP_PASS), where the
// AF_PACKET responder sees, classifies and counts it as it does without XDP.
//
// It answers only what src/layer2/responder.ts would answer with the same bytes (the netns tests
// compare them); anything it is unsure of (an unusual length, options it does not walk) is
// passed up for the userspace responder to decide. Loaded and attached by native/xdp.c; the
// speaker keeps the owned addresses and the interface MAC in the maps below.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// Keep in step with XDP_REASONS in src/sys/xdp.ts.
enum reason {
  R_ANSWERED_ARP,
  R_ANSWERED_NDP,
  R_NOT_OWNED,
  R_BAD_SENDER,
  R_CONFLICT,
  R_BAD_HOP_LIMIT,
  R_BAD_CHECKSUM,
  R_INVALID_SOLICITATION,
  R_OTHER, // not ARP or NDP, not a request, or a form left to userspace
  R_COUNT,
};

struct config {
  __u8 mac[6];
  __u8 enabled; // 0 until the speaker wrote the MAC: answer nothing
  __u8 pad;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct config);
} config SEC(".maps");

// IPv4 address (network order) -> answers sent for it
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, __u64);
} owned_v4 SEC(".maps");

struct in6 {
  __u8 b[16];
};

// IPv6 address -> answers sent for it
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, struct in6);
  __type(value, __u64);
} owned_v6 SEC(".maps");

// reason -> frames
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, R_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} reasons SEC(".maps");

#define ARP_LEN 42
#define IP6_OFF 14
#define ICMP_OFF 54
#define NS_FIXED 24
#define NA_LEN 86
// NS messages longer than this (many options) are left to userspace.
#define MAX_ICMP 128

static __always_inline int count(enum reason r, int verdict) {
  __u32 k = r;
  __u64 *n = bpf_map_lookup_elem(&reasons, &k);
  if (n) *n += 1;
  return verdict;
}

static __always_inline int group_or_zero(const __u8 *m) {
  return (m[0] & 1) || (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]) == 0;
}

static __always_inline int arp(struct xdp_md *ctx, const struct config *cfg) {
  __u8 *f = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  if ((void *)(f + ARP_LEN) > end) return count(R_OTHER, XDP_PASS);
  // htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4.
  if (f[14] != 0 || f[15] != 1 || f[16] != 0x08 || f[17] != 0 || f[18] != 6 || f[19] != 4) return count(R_OTHER, XDP_PASS);
  __u32 sender, target;
  __builtin_memcpy(&sender, f + 28, 4);
  __builtin_memcpy(&target, f + 38, 4);
  // Another MAC claiming an address we own (RFC 5227 conflict) goes up, answered by no one.
  if (bpf_map_lookup_elem(&owned_v4, &sender)) return count(R_CONFLICT, XDP_PASS);
  if (f[20] != 0 || f[21] != 1) return count(R_OTHER, XDP_PASS);
  // Senders that cannot be a host: group or zero MACs, sender IPs 224.0.0.0 and up.
  if (group_or_zero(f + 6) || group_or_zero(f + 22) || f[28] >= 224) return count(R_BAD_SENDER, XDP_PASS);
  __u64 *answered = bpf_map_lookup_elem(&owned_v4, &target);
  if (!answered) return count(R_NOT_OWNED, XDP_PASS);
  __u8 req_mac[6];
  __builtin_memcpy(req_mac, f + 22, 6);
  // The reply, in place: to the requester, from us; sender = the owned IP, target = the
  // requester's (0.0.0.0 for RFC 5227 probes).
  __builtin_memcpy(f, req_mac, 6);
  __builtin_memcpy(f + 6, cfg->mac, 6);
  f[21] = 2;
  __builtin_memcpy(f + 22, cfg->mac, 6);
  __builtin_memcpy(f + 32, req_mac, 6);
  __builtin_memcpy(f + 38, &sender, 4);
  __builtin_memcpy(f + 28, &target, 4);
  __sync_fetch_and_add(answered, 1);
  // Frames padded to the Ethernet minimum go back as 42 bytes, as the AF_PACKET path sends them.
  long extra = (long)(end - (void *)f) - ARP_LEN;
  if (extra > 0 && extra < 64) bpf_xdp_adjust_tail(ctx, (int)-extra);
  return count(R_ANSWERED_ARP, XDP_TX);
}

static __always_inline __u32 fold(__u32 sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

static __always_inline __u32 add16(__u32 sum, const __u8 *p, int n) {
  for (int i = 0; i < n; i += 2) sum += ((__u32)p[i] << 8) | p[i + 1];
  return sum;
}

// The source link-layer address option's offset in the ICMPv6 message, 0 when absent, -1 when
// the options are malformed (RFC 4861 4.6: zero length or past the end), -2 when too many.
static __always_inline int walk_options(const __u8 *icmp, void *end, __u32 plen) {
  __u32 at = NS_FIXED;
  int slla = 0;
  for (int i = 0; i < (MAX_ICMP - NS_FIXED) / 8; i++) {
    if (at >= plen) return slla;
    at &= 0xff;
    const __u8 *o = icmp + at;
    if ((void *)(o + 2) > end) return -1;
    __u32 units = o[1];
    if (units == 0 || at + units * 8 > plen) return -1;
    if (o[0] == 1 && units == 1) slla = (int)at;
    at += units * 8;
  }
  return at >= plen ? slla : -2;
}

// ff02::1:ffXX:XXXX (RFC 4291 2.7.1).
static __always_inline int solicited_node_group(const __u8 *ip) {
  __u8 rest = 0;
  for (int i = 2; i < 11; i++) rest |= ip[i];
  return ip[0] == 0xff && ip[1] == 2 && rest == 0 && ip[11] == 1 && ip[12] == 0xff;
}

static __always_inline int ndp(struct xdp_md *ctx, const struct config *cfg) {
  __u8 *f = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  if ((void *)(f + ICMP_OFF + NS_FIXED) > end) return count(R_OTHER, XDP_PASS);
  if ((f[14] >> 4) != 6 || f[20] != 58 || f[ICMP_OFF] != 135) return count(R_OTHER, XDP_PASS);
  __u32 plen = ((__u32)f[18] << 8) | f[19];
  if (plen < NS_FIXED || plen > MAX_ICMP || (plen & 7) != 0) return count(R_OTHER, XDP_PASS);
  if ((void *)(f + ICMP_OFF + plen) > end) return count(R_OTHER, XDP_PASS);
  // RFC 4861 7.1.1: hop limit 255, valid checksum, code 0, target not multicast.
  if (f[21] != 255) return count(R_BAD_HOP_LIMIT, XDP_PASS);
  __u8 *icmp = f + ICMP_OFF;
  __u32 sum = plen + 58;
  sum = add16(sum, f + 22, 32); // source and destination addresses
  for (int i = 0; i < MAX_ICMP / 8; i++) {
    if ((__u32)i * 8 >= plen) break;
    const __u8 *p = icmp + i * 8;
    if ((void *)(p + 8) > end) return count(R_OTHER, XDP_PASS);
    sum = add16(sum, p, 8);
  }
  if (fold(sum) != 0xffff) return count(R_BAD_CHECKSUM, XDP_PASS);
  if (icmp[1] != 0 || icmp[8] == 0xff) return count(R_INVALID_SOLICITATION, XDP_PASS);
  int slla = walk_options(icmp, end, plen);
  if (slla == -2) return count(R_OTHER, XDP_PASS);
  if (slla < 0) return count(R_INVALID_SOLICITATION, XDP_PASS);
  __u8 zero = 0;
  for (int i = 0; i < 16; i++) zero |= f[22 + i];
  int dad = zero == 0;
  // DAD (source ::) must go to a solicited-node group (ff02::1:ffXX:XXXX) without an SLLA.
  if (dad && (slla != 0 || !solicited_node_group(f + 38))) return count(R_INVALID_SOLICITATION, XDP_PASS);
  struct in6 target, src;
  __builtin_memcpy(target.b, icmp + 8, 16);
  __builtin_memcpy(src.b, f + 22, 16);
  __u64 *answered = bpf_map_lookup_elem(&owned_v6, &target);
  if (!answered) return count(R_NOT_OWNED, XDP_PASS);
  // To the SLLA, else the Ethernet source (unicast NUD probes without one, MetalLB #2920);
  // a DAD probe gets an NA to all nodes without the solicited flag (RFC 4861 7.2.4).
  __u8 to[6];
  __builtin_memcpy(to, f + 6, 6);
  if (slla > 0) {
    const __u8 *o = icmp + (slla & 0x7f);
    if ((void *)(o + 8) > end) return count(R_OTHER, XDP_PASS);
    __builtin_memcpy(to, o + 2, 6);
  }
  // The NA is 86 bytes; an NS without options is 78.
  long delta = NA_LEN - (long)((void *)end - (void *)f);
  if (delta != 0 && bpf_xdp_adjust_tail(ctx, (int)delta) != 0) return count(R_OTHER, XDP_PASS);
  f = (void *)(long)ctx->data;
  end = (void *)(long)ctx->data_end;
  if ((void *)(f + NA_LEN) > end) return count(R_OTHER, XDP_PASS);
  if (dad) {
    // All nodes: ff02::1 and its Ethernet group 33:33:00:00:00:01 (RFC 2464 7).
    __builtin_memset(src.b, 0, 16);
    src.b[0] = 0xff; src.b[1] = 2; src.b[15] = 1;
    to[0] = 0x33; to[1] = 0x33; to[2] = 0; to[3] = 0; to[4] = 0; to[5] = 1;
  }
  __builtin_memcpy(f, to, 6);
  __builtin_memcpy(f + 6, cfg->mac, 6);
  f[12] = 0x86; f[13] = 0xdd;
  f[14] = 0x60; f[15] = 0; f[16] = 0; f[17] = 0; // version 6, no traffic class or flow label
  f[18] = 0; f[19] = 32; f[20] = 58; f[21] = 255;
  __builtin_memcpy(f + 22, target.b, 16); // from the target address, as the kernel answers
  __builtin_memcpy(f + 38, src.b, 16);
  icmp = f + ICMP_OFF;
  icmp[0] = 136; icmp[1] = 0; icmp[2] = 0; icmp[3] = 0;
  icmp[4] = dad ? 0x20 : 0x60; // override, and solicited unless DAD (RFC 4861 4.4)
  icmp[5] = 0; icmp[6] = 0; icmp[7] = 0;
  __builtin_memcpy(icmp + 8, target.b, 16);
  icmp[24] = 2; icmp[25] = 1; // target link-layer address option
  __builtin_memcpy(icmp + 26, cfg->mac, 6);
  __u32 c = 32 + 58;
  c = add16(c, f + 22, 32);
  c = add16(c, icmp, 32);
  __u16 csum = ~fold(c) & 0xffff;
  icmp[2] = csum >> 8;
  icmp[3] = csum & 0xff;
  __sync_fetch_and_add(answered, 1);
  return count(R_ANSWERED_NDP, XDP_TX);
}

SEC("xdp")
int ironlb_responder(struct xdp_md *ctx) {
  __u8 *f = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  if ((void *)(f + 14) > end) return XDP_PASS;
  __u32 zero = 0;
  struct config *cfg = bpf_map_lookup_elem(&config, &zero);
  if (!cfg || !cfg->enabled) return XDP_PASS;
  if (f[12] == 0x08 && f[13] == 0x06) return arp(ctx, cfg);
  if (f[12] == 0x86 && f[13] == 0xdd) return ndp(ctx, cfg);
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
