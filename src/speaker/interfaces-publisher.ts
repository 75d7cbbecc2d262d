import type { Logger } from 'pino';
import type { InterfaceSource } from '../layer2/announcer.js';
import { isUsable, matchesPatterns, type InterfacePrefix, type NetInterface } from '../layer2/interfaces.js';
import { makeCidr, type Cidr } from '../ip/cidr.js';
import type { Clock } from '../shared/clock.js';
import { formatInterfacesRecord, type PublishedInterface } from './interfaces-record.js';

/** Reads the host's interfaces every this long: the announcer's poll period (layer2/announcer.ts). */
export const defaultInterfacesPollMs = 2000;

/** The network of an on-link prefix (host bits cleared). */
function toCidr(p: InterfacePrefix): Cidr {
  let value = 0n;
  for (const byte of p.bytes) value = (value << 8n) | BigInt(byte);
  const bits = p.family === 4 ? 32 : 128;
  const hostMask = (1n << BigInt(bits - p.length)) - 1n;
  return makeCidr(p.family, value & ~hostMask, p.length);
}

// fe80::/10 (RFC 4291 2.5.6) and 169.254.0.0/16 (RFC 3927): on every link, never a Service's subnet.
function isLinkLocal(c: Cidr): boolean {
  if (c.family === 6) return c.prefix >= 10 && c.base >> 118n === 0x3fan;
  return c.prefix >= 16 && c.base >> 16n === 0xa9fen;
}

/**
 * The interfaces this node can announce on, as it publishes them: usable ones (up, ARP-capable,
 * not loopback, not a bond or bridge member, with a MAC: layer2/interfaces.ts `isUsable`)
 * matching `--interfaces`, with their on-link prefixes minus link-local ones.
 */
export function announceableInterfaces(list: readonly NetInterface[], patterns: readonly string[]): readonly PublishedInterface[] {
  return list
    .filter((i) => isUsable(i) && matchesPatterns(i.name, patterns))
    .map((i) => ({ name: i.name, mac: i.mac ?? '', prefixes: i.prefixes.map(toCidr).filter((c) => !isLinkLocal(c)) }));
}

export interface InterfacesPublisherDeps {
  readonly source: InterfaceSource;
  /** `--interfaces` (empty: any). */
  readonly patterns: readonly string[];
  /** Sets the annotation value on this node's Lease (NodeLease.setAnnotation writes only a change). */
  readonly publish: (value: string) => void;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly pollMs?: number;
}

/** Keeps this node's `ironlb.io/interfaces` record equal to what the kernel says. */
export interface InterfacesPublisher {
  /** Reads the interfaces once and publishes them; false when they could not be read (the last value stays). */
  refresh(): Promise<boolean>;
  /** Refreshes every poll period until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
}

/** Creates the publisher; it starts nothing until `refresh` or `run`. */
export function createInterfacesPublisher(deps: InterfacesPublisherDeps): InterfacesPublisher {
  const log = deps.logger.child({ component: 'interfaces' });
  let last: string | undefined;
  let failing = false;
  const refresh = async (): Promise<boolean> => {
    try {
      const value = formatInterfacesRecord(announceableInterfaces(await deps.source.list(), deps.patterns));
      failing = false;
      if (value !== last) log.info({ event: 'interfacesPublished', interfaces: value }, 'publishing the interfaces this node can announce on');
      last = value;
      deps.publish(value);
      return true;
    } catch (e: unknown) {
      // Readiness reports the failure (the source is the speaker's watched one); one line per streak here.
      if (!failing) log.warn({ event: 'interfacesUnpublished', err: e }, 'could not read network interfaces; the published record stays as it was');
      failing = true;
      return false;
    }
  };
  return {
    refresh,
    async run(signal) {
      while (!signal.aborted) {
        await refresh();
        await deps.clock.sleep(deps.pollMs ?? defaultInterfacesPollMs, signal).catch(() => undefined);
      }
    },
  };
}
