/** Ethernet II framing (IEEE 802.3, DIX): 14-byte header, no VLAN tag (bind the VLAN sub-interface). */

export const ethernetHeaderLength = 14;
export const etherTypeArp = 0x0806;
export const etherTypeIpv4 = 0x0800;
export const etherTypeIpv6 = 0x86dd;
/** ff:ff:ff:ff:ff:ff */
export const broadcastMac: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** The EtherType of a frame, or undefined when the frame is shorter than a header. */
export function etherType(frame: Uint8Array): number | undefined {
  if (frame.length < ethernetHeaderLength) return undefined;
  return ((frame[12] ?? 0) << 8) | (frame[13] ?? 0);
}

/** Writes the 14-byte header into `out` (which is at least that long). */
export function writeEthernetHeader(out: Uint8Array, dst: Uint8Array, src: Uint8Array, type: number): void {
  out.set(dst.subarray(0, 6), 0);
  out.set(src.subarray(0, 6), 6);
  out[12] = type >> 8;
  out[13] = type & 0xff;
}
