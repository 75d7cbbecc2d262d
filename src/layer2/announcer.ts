import type { Logger } from 'pino';
import { createAlarm } from '../shared/alarm.js';
import type { Clock } from '../shared/clock.js';
import { err, ok, type Result } from '../shared/result.js';
import { parseIp, parseMac, type IpBytes } from './packet/address.js';
import { eligibleInterfaces, patternMatcher, pickInterfaces, sameInterfaces, type InterfacePolicy, type NetInterface } from './interfaces.js';
import { InterfaceSession, type ConflictHandler, type SessionDeps } from './interface-session.js';
import type { Layer2Metrics } from './metrics.js';
import type { NeighborOffloadFactory } from './neighbor-offload.js';
import type { PacketConnFactory } from './packet-conn.js';
import { defaultProbeTiming, type ProbeTiming } from './probe.js';

/** Reads the host's interfaces (src/sys reads /sys and /proc; tests hand a fixed list). */
export interface InterfaceSource {
  list(): Promise<readonly NetInterface[]>;
}

/** Timing of announcements. */
export interface AnnouncerTiming {
  /**
   * Offsets from the start of ownership at which gratuitous ARP / unsolicited NA go out
   * ("a few times over ~2 s", as MetalLB does, so one lost frame does not leave a stale cache).
   */
  readonly burstOffsetsMs: readonly number[];
  /** Re-announcement period while owning: switch MAC tables age out (MetalLB #2910). 0 = never. */
  readonly reannounceMs: number;
  /** How often interfaces are re-read (links appearing, going down, coming back). */
  readonly pollMs: number;
  /** Probes before a first announcement (layer2/probe.ts); default {@link defaultProbeTiming}. */
  readonly probe?: ProbeTiming;
}

/** Default timing: bursts at 0, 1 and 2 s; re-announce every 60 s; interfaces every 2 s. */
export const defaultTiming: AnnouncerTiming = { burstOffsetsMs: [0, 1000, 2000], reannounceMs: 60_000, pollMs: 2000 };

export interface AnnouncerDeps {
  readonly conns: PacketConnFactory;
  readonly interfaces: InterfaceSource;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Layer2Metrics;
  readonly policy: InterfacePolicy;
  readonly timing: AnnouncerTiming;
  /** Answer ARP in the socket's native fast path when it has one (default true). */
  readonly fastPath: boolean;
  /** Answer ARP and NDP in XDP first (--layer2-mode xdp); absent: AF_PACKET only. */
  readonly offloads?: NeighborOffloadFactory;
  /** Told when another MAC claims an IP announced here (see {@link ConflictHandler}). */
  readonly onConflict?: ConflictHandler | undefined;
}

/** An owned-set entry that is not an IP address. */
export interface InvalidIp {
  readonly kind: 'invalidIp';
  readonly ip: string;
  readonly message: string;
}

/**
 * What probing an address found (RFC 5227 2.1.1, RFC 4862 5.4): nobody else (`clear`, on
 * these interfaces), another host (`conflict`: the first claimant's MAC and where it was
 * seen), or nowhere to probe (`noInterface`, the address would not be announced either).
 */
export type ProbeOutcome =
  | { readonly kind: 'clear'; readonly interfaces: readonly string[] }
  | { readonly kind: 'conflict'; readonly mac: string; readonly iface: string }
  | { readonly kind: 'noInterface' }
  | InvalidIp;

/** How a probe judges what it hears. */
export interface ProbeOptions {
  /**
   * Only an answer counts (ARP with the address as sender, an NA for it), not another host
   * probing for it too: a standby checking that its owner still answers (docs/election.md,
   * "1,000 nodes"), where the other standby probes the same address at the same time.
   */
  readonly answersOnly?: boolean;
}

/** The layer2 announcer: owned IPs in, ARP/NDP answers and gratuitous announcements out. */
export interface Announcer {
  /**
   * Declares the complete set of owned IPs (IPv4 and IPv6 text). Released IPs stop being
   * answered before this returns; new ones are announced as soon as `run` gets to them.
   */
  setOwned(ips: Iterable<string>): Result<void, InvalidIp>;
  /**
   * Probes `ip` on the interfaces it would be announced on, without answering for it: the
   * probes of `timing.probe`, then the answer window (cut short by the first claimant).
   * Works for owned addresses too (a self-check: only other hosts answer). Settles early,
   * as `clear`, when `signal` aborts.
   */
  probe(ip: string, signal?: AbortSignal, options?: ProbeOptions): Promise<ProbeOutcome>;
  /**
   * Sends one gratuitous announcement for an owned `ip` now (defending it, RFC 5227 2.4 (b));
   * the caller keeps to one per 10 s (DEFEND_INTERVAL).
   */
  defend(ip: string): void;
  /** (ip -> interface names) currently announced, for logs and tests. */
  announced(): ReadonlyMap<string, readonly string[]>;
  /** Polls interfaces, answers, announces; settles after closing every socket once `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
}

// When the next announcement for one (interface, ip) is due.
interface Due {
  readonly ip: IpBytes;
  readonly since: number;
  nextAt: number;
  // index into burstOffsetsMs of the next burst; >= length means periodic
  burst: number;
}

/** How long a session opened for probing stays open after the last probe on it, owning nothing (see `lingers`). */
export const probeLingerMs = 10_000;

/** Creates an announcer; it starts nothing until `run`. */
export function createAnnouncer(deps: AnnouncerDeps): Announcer {
  const log = deps.logger.child({ component: 'layer2' });
  const sessionDeps: SessionDeps = {
    conns: deps.conns,
    logger: log,
    metrics: deps.metrics,
    fastPath: deps.fastPath,
    onConflict: deps.onConflict,
    ...(deps.offloads === undefined ? {} : { offloads: deps.offloads }),
  };
  // ip text -> ip
  let owned = new Map<string, IpBytes>();
  // ip text -> (ip, probes in progress): their interfaces' sessions stay open while probing
  const probing = new Map<string, { readonly ip: IpBytes; count: number }>();
  let ifaces: readonly NetInterface[] | undefined;
  // the interfaces of `ifaces` that may announce anything under the policy (patterns compiled once)
  let eligible: readonly NetInterface[] = [];
  const matches = patternMatcher(deps.policy.patterns);
  // ip text -> interfaces chosen for it, for every owned or probed IP: kept while `ifaces` reads the same
  let placement = new Map<string, readonly NetInterface[]>();
  // interface name -> session
  const sessions = new Map<string, InterfaceSession>();
  // interface name -> local time of the last probe on it (its session lingers {@link probeLingerMs} after)
  const probedAt = new Map<string, number>();
  // interface name -> (ip text -> schedule)
  const due = new Map<string, Map<string, Due>>();
  const alarm = createAlarm({ clock: deps.clock });

  const placed = (ip: IpBytes): readonly NetInterface[] => placement.get(ip.text) ?? pickInterfaces(ip, eligible, deps.policy.explicit);

  /** Per interface, the owned IPs it announces (and the interfaces probes need, owning nothing); refreshes `placement`. */
  const desired = (): Map<string, { iface: NetInterface; ips: IpBytes[] }> => {
    const out = new Map<string, { iface: NetInterface; ips: IpBytes[] }>();
    const next = new Map<string, readonly NetInterface[]>();
    for (const { ip } of probing.values()) {
      const chosen = placed(ip);
      next.set(ip.text, chosen);
      for (const iface of chosen) out.set(iface.name, out.get(iface.name) ?? { iface, ips: [] });
    }
    for (const ip of owned.values()) {
      const chosen = placed(ip);
      next.set(ip.text, chosen);
      if (chosen.length === 0) log.debug({ event: 'noInterface', ip: ip.text }, 'no usable interface for this address');
      for (const iface of chosen) {
        const entry = out.get(iface.name) ?? { iface, ips: [] };
        entry.ips.push(ip);
        out.set(iface.name, entry);
      }
    }
    placement = next;
    return out;
  };

  /**
   * Takes a fresh reading of the interfaces; returns whether it differs from the last one. The
   * same reading keeps every choice made from the last (the poll reads them every `pollMs`).
   */
  const useInterfaces = (list: readonly NetInterface[]): boolean => {
    if (ifaces !== undefined && sameInterfaces(ifaces, list)) return false;
    ifaces = list;
    eligible = eligibleInterfaces(list, matches);
    placement = new Map();
    return true;
  };

  const closeSession = (name: string): void => {
    sessions.get(name)?.close();
    sessions.delete(name);
    probedAt.delete(name);
    due.delete(name);
    log.info({ event: 'interfaceReleased', interface: name }, 'stopped announcing on interface');
  };

  const sessionFor = (iface: NetInterface): InterfaceSession => {
    const existing = sessions.get(iface.name);
    if (existing !== undefined && existing.index === iface.index) return existing;
    if (existing !== undefined) closeSession(iface.name);
    const session = new InterfaceSession(iface.name, iface.index, parseMac(iface.mac ?? '') ?? new Uint8Array(6), sessionDeps);
    sessions.set(iface.name, session);
    log.info({ event: 'interfaceAnnouncing', interface: iface.name, mac: iface.mac }, 'announcing on interface');
    return session;
  };

  /**
   * Makes every session announce what the owned set and the interfaces say, and opens the ones
   * probes need: after an owned-set change or a new reading of the interfaces, never at a
   * probe's end (see `settle`). Addresses that stay owned keep their schedules.
   */
  const reconcile = (): void => {
    if (ifaces === undefined) return;
    const want = desired();
    const now = deps.clock.now();
    dropUnwanted(want, ifaces, now);
    let added = 0;
    for (const [name, { iface, ips }] of want) {
      const session = sessionFor(iface);
      const schedules = due.get(name) ?? new Map<string, Due>();
      const keep = new Set(ips.map((ip) => ip.text));
      for (const text of schedules.keys()) if (!keep.has(text)) schedules.delete(text);
      for (const ip of session.setIps(ips)) {
        schedules.set(ip.text, { ip, since: now, nextAt: now, burst: 0 });
        added += 1;
      }
      if (schedules.size > 0) due.set(name, schedules);
      else due.delete(name);
    }
    if (added > 0) alarm.ring();
  };

  /**
   * Whether a session that owns nothing stays open: a probe used it within {@link probeLingerMs}
   * and the interface is still there. A standby that owns no address probes its owners every
   * 500 ms (docs/speaker.md, "Split liveness"); closed after each probe, its packet sockets (and
   * their receiver threads) were opened and closed several times a second.
   */
  const lingers = (name: string, session: InterfaceSession, list: readonly NetInterface[], now: number): boolean => {
    const at = probedAt.get(name);
    return at !== undefined && now - at < probeLingerMs && list.some((i) => i.name === name && i.index === session.index);
  };

  /** Closes the sessions `want` does not list, except those that linger, which own nothing meanwhile. */
  const dropUnwanted = (want: ReadonlyMap<string, unknown>, list: readonly NetInterface[], now: number): void => {
    for (const [name, session] of [...sessions]) {
      if (want.has(name)) continue;
      if (!lingers(name, session, list, now)) {
        closeSession(name);
        continue;
      }
      // Kept open for the next probe, owning nothing: nothing is answered or announced on it.
      session.setIps([]);
      due.delete(name);
    }
  };

  /** Closes `session` (if still the interface's) when it owns nothing, runs no probe and no longer lingers. */
  const closeIfIdle = (session: InterfaceSession, now: number): void => {
    if (sessions.get(session.name) !== session || session.busy) return;
    if (!lingers(session.name, session, ifaces ?? [], now)) closeSession(session.name);
  };

  /**
   * At a probe's end, the only sessions whose fate it can change are its own (see `closeIfIdle`).
   * Nothing owned changed, so the rest stands: this costs the same however many addresses this
   * node owns (a standby probes its owners every 500 ms; a speaker taking 1,000 addresses probes
   * 1,000 at once). Other sessions whose lingering ran out close at the next poll.
   */
  const settle = (on: readonly InterfaceSession[]): void => {
    const now = deps.clock.now();
    for (const session of on) closeIfIdle(session, now);
  };

  /** At each poll that reads the same interfaces: closes every idle session whose lingering ran out. */
  const dropExpired = (): void => {
    const now = deps.clock.now();
    for (const session of [...sessions.values()]) closeIfIdle(session, now);
  };

  /** Notes a probe on these sessions now (those still open), so they linger after it. */
  const markProbed = (on: readonly InterfaceSession[]): void => {
    for (const session of on) if (sessions.get(session.name) === session) probedAt.set(session.name, deps.clock.now());
  };

  const sendDue = (now: number): number => {
    let next = Number.POSITIVE_INFINITY;
    for (const [name, schedules] of due) {
      const session = sessions.get(name);
      for (const d of schedules.values()) {
        if (d.nextAt <= now) {
          session?.announce(d.ip);
          d.burst += 1;
          const offset = deps.timing.burstOffsetsMs[d.burst];
          d.nextAt = offset !== undefined ? d.since + offset : deps.timing.reannounceMs > 0 ? now + deps.timing.reannounceMs : Number.POSITIVE_INFINITY;
        }
        next = Math.min(next, d.nextAt);
      }
    }
    return next;
  };

  /** Reads the interfaces; returns whether they changed (the first reading always does). */
  const refresh = async (): Promise<boolean> => {
    try {
      return useInterfaces(await deps.interfaces.list());
    } catch (e: unknown) {
      log.warn({ event: 'interfacesUnreadable', err: e }, 'could not read network interfaces; keeping the last known set');
      return false;
    }
  };

  /** Re-reads the interfaces: a change re-places everything; the same reading only closes sessions whose lingering ran out. */
  const poll = async (): Promise<void> => {
    if (await refresh()) reconcile();
    else dropExpired();
  };

  // Woken early by setOwned or by the stop signal.
  const sleep = async (ms: number, signal: AbortSignal): Promise<void> => {
    alarm.arm();
    await alarm.wait(signal, ms);
  };

  const probeTiming = deps.timing.probe ?? defaultProbeTiming;

  /**
   * Sends the probes of `probeTiming` on `on` and waits out the window; stops early once `done`
   * aborts. Each step waits at least its planned gap after the step before it actually ran: a
   * process that got the CPU late (a loaded node) still sends three probes apart and gives the
   * last one the whole rest of the window to be answered, instead of judging at once.
   */
  const probeRounds = async (ip: IpBytes, on: readonly InterfaceSession[], done: AbortSignal): Promise<void> => {
    const start = deps.clock.now();
    let previous = { at: 0, ranAt: start };
    for (const at of [...probeTiming.sendAtMs, probeTiming.windowMs]) {
      const due = Math.max(start + at, previous.ranAt + at - previous.at);
      await deps.clock.sleep(Math.max(0, due - deps.clock.now()), done).catch(() => undefined);
      if (done.aborted) return;
      previous = { at, ranAt: deps.clock.now() };
      if (at === probeTiming.windowMs) {
        await pendingFrames();
        return;
      }
      for (const session of on) session.sendProbe(ip);
    }
  };

  /**
   * Lets frames already received reach the sessions before a window is judged silent. When this
   * process was busy past the window's end, the expired timer runs first in the event loop and
   * the answer that arrived meanwhile waits for the I/O phase after it (Node.js "The Node.js
   * Event Loop": timers, then poll, then check): without this, a standby on a loaded node counted
   * its owner's answer, received in time, as a miss. setImmediate runs in the check phase, after
   * that poll.
   */
  const pendingFrames = (): Promise<void> => new Promise((resolve) => { setImmediate(resolve); });

  const probe = async (text: string, signal?: AbortSignal, options?: ProbeOptions): Promise<ProbeOutcome> => {
    const ip = parseIp(text.trim());
    if (ip === undefined) return { kind: 'invalidIp', ip: text, message: `"${text}" is not an IPv4 or IPv6 address` };
    // The first reading also places what is owned already (setOwned before any reading places nothing).
    if (ifaces === undefined && (await refresh())) reconcile();
    const chosen = placed(ip);
    if (chosen.length === 0) return { kind: 'noInterface' };
    const entry = probing.get(ip.text) ?? { ip, count: 0 };
    entry.count += 1;
    probing.set(ip.text, entry);
    const claimed = new AbortController();
    let claim: { mac: string; iface: string } | undefined;
    const on = chosen.map(sessionFor);
    markProbed(on);
    const stops = on.map((session) =>
      session.startProbe(ip, (mac) => {
        claim ??= { mac, iface: session.name };
        claimed.abort();
      }, options?.answersOnly === true),
    );
    try {
      await probeRounds(ip, on, signal === undefined ? claimed.signal : AbortSignal.any([signal, claimed.signal]));
    } finally {
      for (const stop of stops) stop();
      markProbed(on);
      entry.count -= 1;
      if (entry.count === 0) probing.delete(ip.text);
      settle(on);
    }
    return claim === undefined ? { kind: 'clear', interfaces: on.map((s) => s.name) } : { kind: 'conflict', ...claim };
  };

  return {
    probe,

    defend(text) {
      const ip = parseIp(text.trim());
      if (ip === undefined) return;
      for (const [name, schedules] of due) {
        const d = schedules.get(ip.text);
        if (d !== undefined) sessions.get(name)?.announce(d.ip);
      }
    },

    setOwned(ips) {
      const next = new Map<string, IpBytes>();
      for (const text of ips) {
        const ip = parseIp(text.trim());
        if (ip === undefined) return err({ kind: 'invalidIp', ip: text, message: `"${text}" is not an IPv4 or IPv6 address` });
        next.set(ip.text, ip);
      }
      owned = next;
      reconcile();
      // The first announcement of a newly owned IP goes out now, not when the loop next runs:
      // a takeover's caller has more to do in the same turn (its logs, Events, the standby
      // duties for 1,000 IPs), and clients keep sending to the old owner until the frame arrives.
      if (ifaces !== undefined) sendDue(deps.clock.now());
      alarm.ring();
      return ok(undefined);
    },

    announced() {
      const out = new Map<string, string[]>();
      for (const [name, schedules] of due) for (const ip of schedules.keys()) out.set(ip, [...(out.get(ip) ?? []), name]);
      return out;
    },

    async run(signal) {
      let nextPoll = deps.clock.now();
      try {
        while (!signal.aborted) {
          if (deps.clock.now() >= nextPoll) {
            await poll();
            nextPoll = deps.clock.now() + deps.timing.pollMs;
          }
          const next = sendDue(deps.clock.now());
          for (const session of sessions.values()) session.flushCounters();
          await sleep(Math.min(next, nextPoll) - deps.clock.now(), signal);
        }
      } finally {
        for (const name of [...sessions.keys()]) closeSession(name);
        due.clear();
      }
    },
  };
}
