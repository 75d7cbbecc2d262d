import { describe, expect, it } from 'vitest';
import { parseMonitorLine } from '../helpers/neighbour-monitor.js';

describe('parseMonitorLine (ip -ts monitor neigh)', () => {
  it('reads the time to the microsecond, the address and the MAC', () => {
    const c = parseMonitorLine('[2026-12-05T06:30:11.381051] 10.9.9.5 lladdr 02:00:00:00:00:0A STALE ');
    expect(c).toEqual({ at: Date.UTC(2026, 11, 5, 6, 30, 11, 381) + 0.051, ip: '10.9.9.5', mac: '02:00:00:00:00:0a' });
  });

  it('gives entries without a link-layer address, and deleted ones, no MAC', () => {
    expect(parseMonitorLine('[2026-12-05T06:30:11.000001] 10.9.9.5 FAILED')?.mac).toBeUndefined();
    expect(parseMonitorLine('[2026-12-05T06:30:11.000001] Deleted 10.9.9.5 lladdr 02:00:00:00:00:01 STALE')).toMatchObject({ ip: '10.9.9.5', mac: undefined });
  });

  it('reads an IPv6 neighbour', () => {
    expect(parseMonitorLine('[2026-12-05T06:30:11.5] fd00::c8 lladdr 02:00:00:00:00:01 REACHABLE')).toMatchObject({ ip: 'fd00::c8', mac: '02:00:00:00:00:01', at: Date.UTC(2026, 11, 5, 6, 30, 11, 500) });
  });

  it('skips lines without a timestamp', () => {
    expect(parseMonitorLine('10.9.9.5 lladdr 02:00:00:00:00:01 STALE')).toBeUndefined();
    expect(parseMonitorLine('')).toBeUndefined();
  });
});
