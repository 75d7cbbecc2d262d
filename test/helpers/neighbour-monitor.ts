import { spawn } from 'node:child_process';
import { once } from 'node:events';

/** One change of a neighbour entry as the kernel announced it. */
export interface NeighbourChange {
  /** Wall-clock time (epoch ms, microsecond fraction kept) at which `ip monitor` read the notification. */
  readonly at: number;
  readonly ip: string;
  /** The entry's link-layer address after the change; undefined for entries without one (INCOMPLETE, FAILED, deleted). */
  readonly mac: string | undefined;
}

/**
 * The kernel's own notifications of neighbour-entry changes on one interface of a namespace
 * (`ip -ts monitor neigh`, rtnetlink RTNLGRP_NEIGH), timestamped by that small process rather
 * than by this one: a client's failover is the moment its kernel moved the entry, and a poll from
 * a process that also serves the API server reads that moment late when the speakers keep it busy.
 */
export interface NeighbourMonitor {
  /** Every change seen for `ip` so far, oldest first. */
  changes(ip: string): readonly NeighbourChange[];
  close(): Promise<void>;
}

/** Starts `ip -ts monitor neigh dev IFACE` in `netns`; changes are recorded from now on. */
export function monitorNeighbours(netns: string, iface: string): NeighbourMonitor {
  // TZ=UTC: `ip -ts` prints local time without a zone.
  const child = spawn('ip', ['netns', 'exec', netns, 'ip', '-ts', 'monitor', 'neigh', 'dev', iface], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, TZ: 'UTC' } });
  const seen: NeighbourChange[] = [];
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const change = parseMonitorLine(line);
      if (change !== undefined) seen.push(change);
    }
  });
  return {
    changes: (ip) => seen.filter((c) => c.ip === ip),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    },
  };
}

/**
 * One line of `ip -ts monitor neigh`: `[2026-12-05T06:30:11.381051] 10.9.9.5 lladdr 02:00:00:00:00:01 STALE`
 * (`Deleted ...` lines and lines without a timestamp or address give their entry no MAC).
 */
export function parseMonitorLine(line: string): NeighbourChange | undefined {
  const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?\]\s+(Deleted\s+)?(\S+)(.*)$/.exec(line.trim());
  if (m === null) return undefined;
  const [, base = '', fraction = '', deleted, ip = '', rest = ''] = m;
  const at = Date.parse(`${base}Z`) + Number(`0.${fraction === '' ? '0' : fraction}`) * 1000;
  if (!Number.isFinite(at)) return undefined;
  const mac = deleted === undefined ? /\blladdr ([0-9a-f:]{17})\b/i.exec(rest)?.[1]?.toLowerCase() : undefined;
  return { at, ip, mac };
}
