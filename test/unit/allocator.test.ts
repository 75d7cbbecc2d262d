import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.js';
import { Allocator } from '../../src/ipam/allocator.js';
import type { ServiceRequest } from '../../src/ipam/service-request.js';
import type { ServiceKey } from '../../src/shared/brand.js';
import { checkInvariants, held, ip, key, pools, request, type Svc } from './allocator-harness.js';

type Step =
  | { readonly assign: Svc; readonly want: readonly string[]; readonly changed?: boolean }
  | { readonly assign: Svc; readonly error: string; readonly message?: string }
  | { readonly release: string; readonly want: readonly string[] }
  | { readonly restore: readonly { readonly svc: Svc; readonly ips: readonly string[] }[]; readonly want: Readonly<Record<string, { readonly restored: readonly string[]; readonly rejected?: readonly string[]; readonly message?: string }>> }
  | { readonly setConfig: Config; readonly blockers?: readonly string[]; readonly message?: string }
  | { readonly held: Readonly<Record<string, readonly string[]>> }
  | { readonly stats: readonly { readonly pool: string; readonly inUse: number; readonly total: bigint }[] };

interface Scenario {
  readonly name: string;
  readonly config: Config;
  readonly steps: readonly Step[];
}

function runStep(a: Allocator, step: Step, accepted: Map<ServiceKey, ServiceRequest>): void {
  if ('assign' in step) {
    const req = request(step.assign);
    const r = a.assign(req);
    if ('error' in step) {
      expect(r.ok ? r.value.assignment.ips.map((i) => i.text) : r.error.kind, `assign ${step.assign.name}`).toBe(step.error);
      if (!r.ok && step.message !== undefined) expect(r.error.message).toBe(step.message);
      return;
    }
    expect(r.ok ? r.value.assignment.ips.map((i) => i.text) : r.error.message, `assign ${step.assign.name}`).toEqual(step.want);
    if (r.ok && step.changed !== undefined) expect(r.value.changed, `assign ${step.assign.name} changed`).toBe(step.changed);
    accepted.set(req.key, req);
  } else if ('release' in step) {
    expect(a.release(key(step.release))?.ips.map((i) => i.text) ?? []).toEqual(step.want);
    accepted.delete(key(step.release));
  } else if ('restore' in step) {
    const outcomes = a.restore(step.restore.map((e) => ({ request: request(e.svc), ips: e.ips.map(ip) })));
    for (const e of step.restore) accepted.set(key(e.svc.name), request(e.svc));
    const got = Object.fromEntries(outcomes.map((o) => [o.key.replace('default/', ''), { restored: o.restored.map((i) => i.text), rejected: o.rejected.map((x) => x.error.message) }]));
    for (const [name, want] of Object.entries(step.want)) {
      expect(got[name]?.restored, `restored ${name}`).toEqual(want.restored);
      if (want.rejected !== undefined) expect(got[name]?.rejected, `rejected ${name}`).toEqual(want.rejected);
    }
  } else if ('setConfig' in step) {
    const before = a.currentConfig;
    const r = a.setConfig(step.setConfig);
    if (step.blockers === undefined) {
      expect(r.ok ? 'ok' : r.error.message).toBe('ok');
      return;
    }
    expect(r.ok ? [] : r.error.blockers.map((b) => b.key)).toEqual(step.blockers);
    if (!r.ok && step.message !== undefined) expect(r.error.message).toBe(step.message);
    expect(a.currentConfig).toBe(before);
  } else if ('held' in step) {
    for (const [name, want] of Object.entries(step.held)) expect(held(a, name), `held by ${name}`).toEqual(want);
  } else {
    expect(a.stats().map((s) => ({ pool: s.pool, inUse: s.inUse, total: s.total }))).toEqual(step.stats);
  }
}

function run(scenario: Scenario): void {
  const a = new Allocator(scenario.config);
  const accepted = new Map<ServiceKey, ServiceRequest>();
  scenario.steps.forEach((step, i) => {
    try {
      runStep(a, step, accepted);
      checkInvariants(a, accepted);
    } catch (e: unknown) {
      if (e instanceof Error) e.message = `step ${i}: ${e.message}`;
      throw e;
    }
  });
}

const four = pools('p: 10.0.0.0/30');

describe('allocator: basics', () => {
  it.each<Scenario>([
    {
      name: 'lowest free address first, idempotent, release and reuse',
      config: four,
      steps: [
        { assign: { name: 'a' }, want: ['10.0.0.0'], changed: true },
        { assign: { name: 'b' }, want: ['10.0.0.1'] },
        { assign: { name: 'a' }, want: ['10.0.0.0'], changed: false },
        { release: 'a', want: ['10.0.0.0'] },
        { release: 'a', want: [] },
        { assign: { name: 'c' }, want: ['10.0.0.0'] },
        { stats: [{ pool: 'p', inUse: 2, total: 4n }] },
      ],
    },
    {
      name: 'exhaustion, then room after a release',
      config: four,
      steps: [
        { assign: { name: 'a' }, want: ['10.0.0.0'] },
        { assign: { name: 'b' }, want: ['10.0.0.1'] },
        { assign: { name: 'c' }, want: ['10.0.0.2'] },
        { assign: { name: 'd' }, want: ['10.0.0.3'] },
        { assign: { name: 'e' }, error: 'poolExhausted', message: 'no available IPs for IPv4 in the auto-assign pools ("p")' },
        { release: 'c', want: ['10.0.0.2'] },
        { assign: { name: 'e' }, want: ['10.0.0.2'] },
        { stats: [{ pool: 'p', inUse: 4, total: 4n }] },
      ],
    },
    {
      name: 'first auto-assign pool with room wins, in config order',
      config: pools('a: 10.0.0.0/31', 'b: 10.0.1.0/31'),
      steps: [
        { assign: { name: 's1' }, want: ['10.0.0.0'] },
        { assign: { name: 's2' }, want: ['10.0.0.1'] },
        { assign: { name: 's3' }, want: ['10.0.1.0'] },
        { stats: [{ pool: 'a', inUse: 2, total: 2n }, { pool: 'b', inUse: 1, total: 2n }] },
      ],
    },
    {
      name: 'auto-assign false pools give IPs only on request',
      config: pools('reserved!: 10.0.9.0/31', 'auto: 10.0.0.0/32'),
      steps: [
        { assign: { name: 'a' }, want: ['10.0.0.0'] },
        { assign: { name: 'b' }, error: 'poolExhausted', message: 'no available IPs for IPv4 in the auto-assign pools ("auto")' },
        { assign: { name: 'b', pool: 'reserved' }, want: ['10.0.9.0'] },
        { assign: { name: 'c', ips: ['10.0.9.1'] }, want: ['10.0.9.1'] },
        // Dropping the annotation later keeps the IP: still valid, and stable.
        { assign: { name: 'b' }, want: ['10.0.9.0'], changed: false },
      ],
    },
    {
      name: 'no auto-assign pool at all',
      config: pools('only!: 10.0.9.0/31'),
      steps: [{ assign: { name: 'a' }, error: 'poolExhausted', message: 'no available IPs for IPv4: no pool has auto-assign enabled' }],
    },
    {
      name: 'requested pool: exhausted, missing family, unknown',
      config: pools('x: 10.0.0.0/32', 'y: 10.0.1.0/30'),
      steps: [
        { assign: { name: 'a', pool: 'x' }, want: ['10.0.0.0'] },
        { assign: { name: 'b', pool: 'x' }, error: 'poolExhausted', message: 'no available IPs in pool "x" for IPv4' },
        { assign: { name: 'c', pool: 'y', families: ['IPv6'] }, error: 'poolExhausted', message: 'no available IPs in pool "y" for IPv6' },
        { assign: { name: 'd', pool: 'nope' }, error: 'noSuchPool', message: 'pool "nope" does not exist' },
        { assign: { name: 'e', pool: 'y' }, want: ['10.0.1.0'] },
      ],
    },
    {
      name: 'avoid-buggy-ips skips .0 and .255, also on request',
      config: pools('p: 10.0.0.254-10.0.1.1 | buggy'),
      steps: [
        { assign: { name: 'a' }, want: ['10.0.0.254'] },
        { assign: { name: 'b' }, want: ['10.0.1.1'] },
        { assign: { name: 'c' }, error: 'poolExhausted' },
        { assign: { name: 'd', ips: ['10.0.1.0'] }, error: 'notInPool', message: '10.0.1.0 is not usable: pool "p" has avoid-buggy-ips, which excludes addresses ending in .0 or .255' },
        { stats: [{ pool: 'p', inUse: 2, total: 2n }] },
      ],
    },
    {
      name: 'without avoid-buggy-ips, .255 and .0 are ordinary',
      config: pools('p: 10.0.0.255-10.0.1.0'),
      steps: [
        { assign: { name: 'a' }, want: ['10.0.0.255'] },
        { assign: { name: 'b' }, want: ['10.0.1.0'] },
      ],
    },
    {
      name: 'avoid-buggy-ips leaves IPv6 alone',
      config: pools('p: 2001:db8::ff-2001:db8::100 | buggy'),
      steps: [
        { assign: { name: 'a', families: ['IPv6'] }, want: ['2001:db8::ff'] },
        { assign: { name: 'b', families: ['IPv6'] }, want: ['2001:db8::100'] },
      ],
    },
    {
      // IPs in use are indexed by number (IPv4) and bigint (IPv6): equal values must not meet.
      name: 'an IPv4 and an IPv6 address of the same value, and both ends of the IPv4 space',
      config: pools('p: 10.0.0.1/32, ::a00:1/128, 0.0.0.0/32, 255.255.255.255/32, 127.255.255.255-128.0.0.0'),
      steps: [
        { assign: { name: 'a', ips: ['10.0.0.1'] }, want: ['10.0.0.1'] },
        { assign: { name: 'b', ips: ['::a00:1'], families: ['IPv6'] }, want: ['::a00:1'] },
        { assign: { name: 'c', ips: ['255.255.255.255'] }, want: ['255.255.255.255'] },
        { assign: { name: 'd', ips: ['127.255.255.255'] }, want: ['127.255.255.255'] },
        { assign: { name: 'e' }, want: ['0.0.0.0'] },
        { assign: { name: 'f' }, want: ['128.0.0.0'] },
        { assign: { name: 'g', ips: ['128.0.0.0'] }, error: 'ipInUse' },
        { assign: { name: 'g', ips: ['255.255.255.255'] }, error: 'ipInUse' },
        { release: 'c', want: ['255.255.255.255'] },
        { assign: { name: 'g', ips: ['255.255.255.255'] }, want: ['255.255.255.255'] },
        { held: { a: ['10.0.0.1'], b: ['::a00:1'], d: ['127.255.255.255'], e: ['0.0.0.0'], f: ['128.0.0.0'], g: ['255.255.255.255'] } },
      ],
    },
  ])('$name', run);
});

describe('allocator: requested IPs', () => {
  it.each<Scenario>([
    {
      name: 'in a pool, not in any, in use, wrong pool',
      config: pools('a: 10.0.0.0/29', 'b!: 10.0.1.0/29'),
      steps: [
        { assign: { name: 'x', ips: ['10.0.0.5'] }, want: ['10.0.0.5'] },
        { assign: { name: 'y', ips: ['192.0.2.7'] }, error: 'notInPool', message: '192.0.2.7 is not in any pool' },
        { assign: { name: 'y', ips: ['10.0.0.5'] }, error: 'ipInUse', message: '10.0.0.5 is already in use by default/x, and the two Services do not have the same allow-shared-ip key' },
        { assign: { name: 'y', ips: ['10.0.0.6'], pool: 'b' }, error: 'notInPool', message: '10.0.0.6 is not in pool "b"' },
        { assign: { name: 'y', ips: ['10.0.1.6'], pool: 'b' }, want: ['10.0.1.6'] },
        // Auto allocation goes around a requested IP.
        { assign: { name: 'z' }, want: ['10.0.0.0'] },
      ],
    },
    {
      name: 'changing the requested IP moves the Service; a refused move keeps the old IP',
      config: pools('a: 10.0.0.0/29'),
      steps: [
        { assign: { name: 'x', ips: ['10.0.0.5'] }, want: ['10.0.0.5'] },
        { assign: { name: 'y', ips: ['10.0.0.6'] }, want: ['10.0.0.6'] },
        { assign: { name: 'x', ips: ['10.0.0.6'] }, error: 'ipInUse' },
        { held: { x: ['10.0.0.5'] } },
        { assign: { name: 'x', ips: ['10.0.0.7'] }, want: ['10.0.0.7'], changed: true },
        { assign: { name: 'z', ips: ['10.0.0.5'] }, want: ['10.0.0.5'] },
        // Dropping the request keeps the IP (still valid).
        { assign: { name: 'x' }, want: ['10.0.0.7'], changed: false },
      ],
    },
    {
      name: 'a requested IP and a pool it is not in: refused, the old IP stays',
      config: pools('a: 10.0.0.0/29', 'b: 10.0.1.0/29'),
      steps: [
        { assign: { name: 'x', ips: ['10.0.0.7'] }, want: ['10.0.0.7'] },
        { assign: { name: 'x', ips: ['10.0.0.7'], pool: 'b' }, error: 'notInPool', message: '10.0.0.7 is not in pool "b"' },
        { assign: { name: 'x', ips: ['10.0.0.7'], pool: 'gone' }, error: 'noSuchPool' },
        { held: { x: ['10.0.0.7'] } },
        { assign: { name: 'x', ips: ['10.0.0.7'], pool: 'a' }, want: ['10.0.0.7'], changed: false },
      ],
    },
    {
      name: 'a requested IP must fit the IP families',
      config: pools('d: 10.0.0.0/29, 2001:db8::/125'),
      steps: [
        { assign: { name: 'a', ips: ['2001:db8::1'], families: ['IPv4'] }, error: 'familyMismatch', message: "requested IP 2001:db8::1 is IPv6, but the Service's ipFamilyPolicy SingleStack allows IPv4 only" },
        { assign: { name: 'b', ips: ['10.0.0.1'], families: ['IPv4', 'IPv6'], policy: 'RequireDualStack' }, error: 'familyMismatch', message: 'ipFamilyPolicy RequireDualStack needs an IPv6 address, but the requested IPs give none' },
        { assign: { name: 'c', ips: ['2001:db8::1', '10.0.0.1'], families: ['IPv4', 'IPv6'], policy: 'RequireDualStack' }, want: ['10.0.0.1', '2001:db8::1'] },
        { assign: { name: 'd', ips: ['10.0.0.2'], families: ['IPv4', 'IPv6'], policy: 'PreferDualStack' }, want: ['10.0.0.2'] },
        { assign: { name: 'e', ips: ['2001:db8::2'] }, want: ['2001:db8::2'] },
      ],
    },
  ])('$name', run);
});

describe('allocator: sharing', () => {
  it.each<Scenario>([
    {
      name: 'same key shares when ports do not collide; (port, protocol) is the unit',
      config: pools('p: 10.0.0.0/29'),
      steps: [
        { assign: { name: 'a', key: 'k', ports: ['80/TCP'] }, want: ['10.0.0.0'] },
        { assign: { name: 'b', key: 'k', ports: ['443/TCP'] }, want: ['10.0.0.0'] },
        // A collision on the shared IP: the key's next IP is a fresh one.
        { assign: { name: 'c', key: 'k', ports: ['80/TCP'] }, want: ['10.0.0.1'] },
        { assign: { name: 'd', key: 'k', ports: ['53/UDP'] }, want: ['10.0.0.0'] },
        { assign: { name: 'e', key: 'k', ports: ['53/TCP'] }, want: ['10.0.0.0'] },
        { assign: { name: 'f', key: 'k', ports: ['80/TCP'], ips: ['10.0.0.0'] }, error: 'portConflict', message: 'port 80/TCP already in use on 10.0.0.0 by default/a' },
        { assign: { name: 'g', key: 'other', ips: ['10.0.0.0'] }, error: 'sharingKeyMismatch', message: '10.0.0.0 is shared by default/a under the key "k", not "other"' },
        { assign: { name: 'h', ips: ['10.0.0.0'], ports: ['8080/TCP'] }, error: 'ipInUse' },
        { stats: [{ pool: 'p', inUse: 2, total: 8n }] },
      ],
    },
    {
      name: 'a Service without a key never shares, even with a keyed one',
      config: pools('p: 10.0.0.0/29'),
      steps: [
        { assign: { name: 'a', ports: ['80/TCP'] }, want: ['10.0.0.0'] },
        { assign: { name: 'b', key: 'k', ports: ['443/TCP'], ips: ['10.0.0.0'] }, error: 'ipInUse', message: '10.0.0.0 is already in use by default/a, and the two Services do not have the same allow-shared-ip key' },
        { assign: { name: 'b', key: 'k', ports: ['443/TCP'] }, want: ['10.0.0.1'] },
      ],
    },
    {
      name: 'policy Local shares only with the same selector; never with Cluster',
      config: pools('p: 10.0.0.0/29'),
      steps: [
        { assign: { name: 'a', key: 'k', local: 'web', ports: ['80/TCP'] }, want: ['10.0.0.0'] },
        { assign: { name: 'b', key: 'k', local: 'web', ports: ['443/TCP'] }, want: ['10.0.0.0'] },
        { assign: { name: 'c', key: 'k', local: 'db', ports: ['5432/TCP'], ips: ['10.0.0.0'] }, error: 'backendMismatch' },
        { assign: { name: 'd', key: 'k', ports: ['8080/TCP'], ips: ['10.0.0.0'] }, error: 'backendMismatch' },
        { assign: { name: 'c', key: 'k', local: 'db', ports: ['5432/TCP'] }, want: ['10.0.0.1'] },
      ],
    },
    {
      name: 'releasing one sharer keeps the IP for the others',
      config: pools('p: 10.0.0.0/30'),
      steps: [
        { assign: { name: 'a', key: 'k', ports: ['80/TCP'] }, want: ['10.0.0.0'] },
        { assign: { name: 'b', key: 'k', ports: ['443/TCP'] }, want: ['10.0.0.0'] },
        { release: 'a', want: ['10.0.0.0'] },
        { assign: { name: 'c' }, want: ['10.0.0.1'] },
        { release: 'b', want: ['10.0.0.0'] },
        { assign: { name: 'd' }, want: ['10.0.0.0'] },
      ],
    },
    {
      name: 'changing the key while sharing is refused; alone it is fine',
      config: pools('p: 10.0.0.0/30'),
      steps: [
        { assign: { name: 'a', key: 'k', ports: ['80/TCP'] }, want: ['10.0.0.0'] },
        { assign: { name: 'b', key: 'k', ports: ['443/TCP'] }, want: ['10.0.0.0'] },
        { assign: { name: 'a', key: 'k2', ports: ['80/TCP'] }, error: 'sharingKeyChange', message: 'cannot change the allow-shared-ip key from "k" to "k2" while 10.0.0.0 is shared with default/b' },
        { assign: { name: 'a', ports: ['80/TCP'] }, error: 'sharingKeyChange', message: 'cannot change the allow-shared-ip key from "k" to none while 10.0.0.0 is shared with default/b' },
        { held: { a: ['10.0.0.0'], b: ['10.0.0.0'] } },
        { release: 'b', want: ['10.0.0.0'] },
        { assign: { name: 'a', key: 'k2', ports: ['80/TCP'] }, want: ['10.0.0.0'], changed: false },
        // The IP now shares under the new key only.
        { assign: { name: 'c', key: 'k', ports: ['443/TCP'], ips: ['10.0.0.0'] }, error: 'sharingKeyMismatch' },
        { assign: { name: 'c', key: 'k2', ports: ['443/TCP'] }, want: ['10.0.0.0'] },
      ],
    },
    {
      name: 'a port change that collides with a sharer is refused; the old ports stay',
      config: pools('p: 10.0.0.0/30'),
      steps: [
        { assign: { name: 'a', key: 'k', ports: ['80/TCP'] }, want: ['10.0.0.0'] },
        { assign: { name: 'b', key: 'k', ports: ['443/TCP'] }, want: ['10.0.0.0'] },
        { assign: { name: 'b', key: 'k', ports: ['443/TCP', '80/TCP'] }, error: 'portConflict', message: 'port 80/TCP already in use on 10.0.0.0 by default/a' },
        { assign: { name: 'c', key: 'k', ports: ['8443/TCP'] }, want: ['10.0.0.0'] },
        { assign: { name: 'b', key: 'k', ports: ['444/TCP'] }, want: ['10.0.0.0'], changed: false },
      ],
    },
  ])('$name', run);
});

describe('allocator: dual stack', () => {
  it.each<Scenario>([
    {
      name: 'RequireDualStack takes the first pool with both families',
      config: pools('v4: 10.0.0.0/30', 'dual: 10.0.1.0/30, 2001:db8::/126'),
      steps: [
        { assign: { name: 'a', families: ['IPv4', 'IPv6'], policy: 'RequireDualStack' }, want: ['10.0.1.0', '2001:db8::'] },
        { assign: { name: 'b', families: ['IPv6', 'IPv4'], policy: 'RequireDualStack' }, want: ['2001:db8::1', '10.0.1.1'] },
        { assign: { name: 'c' }, want: ['10.0.0.0'] },
        { assign: { name: 'd', families: ['IPv6'] }, want: ['2001:db8::2'] },
      ],
    },
    {
      name: 'RequireDualStack fails when no pool has both free',
      config: pools('v4: 10.0.0.0/30', 'v6: 2001:db8::/126'),
      steps: [
        { assign: { name: 'a', families: ['IPv4', 'IPv6'], policy: 'RequireDualStack' }, error: 'poolExhausted', message: 'no pool among "v4", "v6" has a free IPv4 and a free IPv6 address together' },
      ],
    },
    {
      name: 'RequireDualStack fails naming the missing family',
      config: pools('v4: 10.0.0.0/30'),
      steps: [
        { assign: { name: 'a', families: ['IPv4', 'IPv6'], policy: 'RequireDualStack' }, error: 'poolExhausted', message: 'no available IPs for IPv6 in the auto-assign pools ("v4")' },
      ],
    },
    {
      name: 'PreferDualStack prefers a dual pool, falls back to one family, and adds the other later',
      config: pools('v4: 10.0.0.0/32', 'dual: 10.0.1.0/32, 2001:db8::/128'),
      steps: [
        { assign: { name: 'a', families: ['IPv4', 'IPv6'], policy: 'PreferDualStack' }, want: ['10.0.1.0', '2001:db8::'] },
        { assign: { name: 'b', families: ['IPv4', 'IPv6'], policy: 'PreferDualStack' }, want: ['10.0.0.0'] },
        { release: 'a', want: ['10.0.1.0', '2001:db8::'] },
        // b's pool has no IPv6: b stays single stack rather than moving.
        { assign: { name: 'b', families: ['IPv4', 'IPv6'], policy: 'PreferDualStack' }, want: ['10.0.0.0'], changed: false },
      ],
    },
    {
      name: 'PreferDualStack picks up the second family in its own pool once free',
      config: pools('dual: 10.0.1.0/31, 2001:db8::/128'),
      steps: [
        { assign: { name: 'x', families: ['IPv6'] }, want: ['2001:db8::'] },
        { assign: { name: 'a', families: ['IPv4', 'IPv6'], policy: 'PreferDualStack' }, want: ['10.0.1.0'] },
        { release: 'x', want: ['2001:db8::'] },
        { assign: { name: 'a', families: ['IPv4', 'IPv6'], policy: 'PreferDualStack' }, want: ['10.0.1.0', '2001:db8::'], changed: true },
      ],
    },
    {
      name: 'policy changes keep the IP of the family that stays',
      config: pools('dual: 10.0.1.0/30, 2001:db8::/126'),
      steps: [
        { assign: { name: 'a', families: ['IPv4'] }, want: ['10.0.1.0'] },
        { assign: { name: 'b', families: ['IPv4'] }, want: ['10.0.1.1'] },
        { assign: { name: 'b', families: ['IPv4', 'IPv6'], policy: 'RequireDualStack' }, want: ['10.0.1.1', '2001:db8::'], changed: true },
        { assign: { name: 'b', families: ['IPv4'], policy: 'SingleStack' }, want: ['10.0.1.1'], changed: true },
        { assign: { name: 'c', families: ['IPv6'] }, want: ['2001:db8::'] },
      ],
    },
    {
      name: 'a SingleStack IPv6 Service gets IPv6 only',
      config: pools('dual: 10.0.1.0/30, 2001:db8::/126'),
      steps: [{ assign: { name: 'a', families: ['IPv6'] }, want: ['2001:db8::'] }],
    },
    {
      name: 'sharing in dual stack joins both IPs',
      config: pools('dual: 10.0.1.0/30, 2001:db8::/126'),
      steps: [
        { assign: { name: 'a', key: 'k', ports: ['80/TCP'], families: ['IPv4', 'IPv6'], policy: 'RequireDualStack' }, want: ['10.0.1.0', '2001:db8::'] },
        { assign: { name: 'b', key: 'k', ports: ['443/TCP'], families: ['IPv4', 'IPv6'], policy: 'RequireDualStack' }, want: ['10.0.1.0', '2001:db8::'] },
        { assign: { name: 'c', key: 'k', ports: ['8080/TCP'], families: ['IPv6'] }, want: ['2001:db8::'] },
      ],
    },
  ])('$name', run);
});

describe('allocator: restore', () => {
  it.each<Scenario>([
    {
      name: 'the older of two Services claiming one IP keeps it, whatever the order given',
      config: pools('p: 10.0.0.0/29'),
      steps: [
        {
          restore: [
            { svc: { name: 'young', created: 200 }, ips: ['10.0.0.5'] },
            { svc: { name: 'old', created: 100 }, ips: ['10.0.0.5'] },
            { svc: { name: 'other', created: 150 }, ips: ['10.0.0.6'] },
          ],
          want: {
            old: { restored: ['10.0.0.5'], rejected: [] },
            other: { restored: ['10.0.0.6'], rejected: [] },
            young: { restored: [], rejected: ['10.0.0.5 is already in use by default/old, and the two Services do not have the same allow-shared-ip key'] },
          },
        },
        // Restored IPs are kept by the next assign; the loser gets a new one.
        { assign: { name: 'old', created: 100 }, want: ['10.0.0.5'], changed: false },
        { assign: { name: 'young', created: 200 }, want: ['10.0.0.0'], changed: true },
      ],
    },
    {
      name: 'equal creation times: the smaller key wins',
      config: pools('p: 10.0.0.0/29'),
      steps: [
        { restore: [{ svc: { name: 'b', created: 1 }, ips: ['10.0.0.1'] }, { svc: { name: 'a', created: 1 }, ips: ['10.0.0.1'] }], want: { a: { restored: ['10.0.0.1'] }, b: { restored: [] } } },
      ],
    },
    {
      name: 'sharers restore together; a port clash loses',
      config: pools('p: 10.0.0.0/29'),
      steps: [
        {
          restore: [
            { svc: { name: 'a', created: 1, key: 'k', ports: ['80/TCP'] }, ips: ['10.0.0.3'] },
            { svc: { name: 'b', created: 2, key: 'k', ports: ['53/UDP'] }, ips: ['10.0.0.3'] },
            { svc: { name: 'c', created: 3, key: 'k', ports: ['80/TCP'] }, ips: ['10.0.0.3'] },
          ],
          want: { a: { restored: ['10.0.0.3'] }, b: { restored: ['10.0.0.3'] }, c: { restored: [], rejected: ['port 80/TCP already in use on 10.0.0.3 by default/a'] } },
        },
      ],
    },
    {
      name: 'an IP outside the config is reported, a buggy one too',
      config: pools('p: 10.0.0.0/24 | buggy'),
      steps: [
        {
          restore: [
            { svc: { name: 'a' }, ips: ['192.0.2.1'] },
            { svc: { name: 'b' }, ips: ['10.0.0.255'] },
          ],
          want: {
            a: { restored: [], rejected: ['192.0.2.1 is not in any pool'] },
            b: { restored: [], rejected: ['10.0.0.255 is not usable: pool "p" has avoid-buggy-ips, which excludes addresses ending in .0 or .255'] },
          },
        },
        { held: { a: [], b: [] } },
      ],
    },
    {
      name: 'partial dual stack restore keeps the good IP and completes the other family later',
      config: pools('dual: 10.0.0.0/30, 2001:db8::/126'),
      steps: [
        { restore: [{ svc: { name: 'old', created: 1 }, ips: ['10.0.0.2'] }], want: { old: { restored: ['10.0.0.2'] } } },
        {
          restore: [{ svc: { name: 'ds', created: 2, families: ['IPv4', 'IPv6'], policy: 'RequireDualStack' }, ips: ['10.0.0.2', '2001:db8::3'] }],
          want: { ds: { restored: ['2001:db8::3'] } },
        },
        { assign: { name: 'ds', created: 2, families: ['IPv4', 'IPv6'], policy: 'RequireDualStack' }, want: ['10.0.0.0', '2001:db8::3'], changed: true },
      ],
    },
    {
      name: 'a restored IP in an auto-assign false pool, no longer asked for, is kept',
      config: pools('vip!: 10.0.9.0/30', 'auto: 10.0.0.0/30'),
      steps: [
        { restore: [{ svc: { name: 'a' }, ips: ['10.0.9.2'] }], want: { a: { restored: ['10.0.9.2'] } } },
        { assign: { name: 'a' }, want: ['10.0.9.2'], changed: false },
      ],
    },
    {
      name: 'a restored IP outside the requested pool moves on the next assign',
      config: pools('a: 10.0.0.0/30', 'b: 10.0.1.0/30'),
      steps: [
        { restore: [{ svc: { name: 's', pool: 'b' }, ips: ['10.0.0.1'] }], want: { s: { restored: ['10.0.0.1'] } } },
        { assign: { name: 's', pool: 'b' }, want: ['10.0.1.0'], changed: true },
      ],
    },
  ])('$name', run);
});

describe('allocator: config changes', () => {
  it.each<Scenario>([
    {
      name: 'removing a pool in use is refused, naming the Services; the old config stays',
      config: pools('a: 10.0.0.0/30', 'b: 10.0.1.0/30'),
      steps: [
        { assign: { name: 'x', pool: 'b' }, want: ['10.0.1.0'] },
        { assign: { name: 'y', ips: ['10.0.1.1'] }, want: ['10.0.1.1'] },
        { setConfig: pools('a: 10.0.0.0/30'), blockers: ['default/x', 'default/y'], message: 'the new config would orphan assigned IPs: default/x (10.0.1.0 is not in any pool), default/y (10.0.1.1 is not in any pool)' },
        { assign: { name: 'z', pool: 'b' }, want: ['10.0.1.2'] },
      ],
    },
    {
      name: 'shrinking a pool around its assigned IPs is fine; new allocations use the new pools',
      config: pools('a: 10.0.0.0/24'),
      steps: [
        { assign: { name: 'x', ips: ['10.0.0.10'] }, want: ['10.0.0.10'] },
        { setConfig: pools('a: 10.0.0.8/29', 'c: 10.0.5.0/30') },
        { stats: [{ pool: 'a', inUse: 1, total: 8n }, { pool: 'c', inUse: 0, total: 4n }] },
        { assign: { name: 'y' }, want: ['10.0.0.8'] },
        { assign: { name: 'x', ips: ['10.0.0.10'] }, want: ['10.0.0.10'], changed: false },
      ],
    },
    {
      name: 'an IP may change pool name, unless its Service asks for the pool',
      config: pools('a: 10.0.0.0/30', 'b: 10.0.1.0/30'),
      steps: [
        { assign: { name: 'free' }, want: ['10.0.0.0'] },
        { setConfig: pools('renamed: 10.0.0.0/30', 'b: 10.0.1.0/30') },
        { assign: { name: 'pinned', pool: 'b' }, want: ['10.0.1.0'] },
        { setConfig: pools('renamed: 10.0.0.0/30, 10.0.1.0/30'), blockers: ['default/pinned'], message: 'the new config would orphan assigned IPs: default/pinned (10.0.1.0 would leave pool "b", which the Service asks for)' },
        { held: { free: ['10.0.0.0'], pinned: ['10.0.1.0'] } },
      ],
    },
    {
      name: 'turning on avoid-buggy-ips with a .0 in use is refused',
      config: pools('a: 10.0.0.0/30'),
      steps: [
        { assign: { name: 'x' }, want: ['10.0.0.0'] },
        { setConfig: pools('a: 10.0.0.0/30 | buggy'), blockers: ['default/x'] },
        { release: 'x', want: ['10.0.0.0'] },
        { setConfig: pools('a: 10.0.0.0/30 | buggy') },
        { assign: { name: 'x' }, want: ['10.0.0.1'] },
      ],
    },
    {
      name: 'shared IPs block for every sharer',
      config: pools('a: 10.0.0.0/30'),
      steps: [
        { assign: { name: 'x', key: 'k', ports: ['80/TCP'] }, want: ['10.0.0.0'] },
        { assign: { name: 'y', key: 'k', ports: ['81/TCP'] }, want: ['10.0.0.0'] },
        { setConfig: pools('a: 10.0.0.2/31'), blockers: ['default/x', 'default/y'] },
      ],
    },
    {
      name: 'a refused move after a config change keeps the IP',
      config: pools('a: 10.0.0.0/31', 'b: 10.0.1.0/32'),
      steps: [
        { assign: { name: 'x', pool: 'a' }, want: ['10.0.0.0'] },
        { assign: { name: 'y', pool: 'b' }, want: ['10.0.1.0'] },
        { assign: { name: 'x', pool: 'b' }, error: 'poolExhausted', message: 'no available IPs in pool "b" for IPv4' },
        { held: { x: ['10.0.0.0'] } },
        { stats: [{ pool: 'a', inUse: 1, total: 2n }, { pool: 'b', inUse: 1, total: 1n }] },
      ],
    },
  ])('$name', run);
});

describe('allocator: big pools', () => {
  it('fills a /64 lowest first and counts it as a bigint', () => {
    const a = new Allocator(pools('v6: 2001:db8::/64'));
    for (let i = 0; i < 1000; i++) a.assign(request({ name: `s${i}`, families: ['IPv6'] }));
    expect(held(a, 's999')).toEqual(['2001:db8::3e7']);
    expect(a.stats()).toEqual([{ pool: 'v6', inUse: 1000, total: 1n << 64n, families: [{ family: 6, inUse: 1000, total: 1n << 64n }] }]);
    expect(a.verify()).toEqual([]);
  });

  it('counts the usable addresses of an avoid-buggy-ips /16', () => {
    const a = new Allocator(pools('v4: 10.1.0.0/16 | buggy'));
    expect(a.stats()[0]?.total).toBe(256n * 254n);
  });

  it('lists the users of a shared IP', () => {
    const a = new Allocator(pools('p: 10.0.0.0/30'));
    a.assign(request({ name: 'a', key: 'k', ports: ['1/TCP'] }));
    a.assign(request({ name: 'b', key: 'k', ports: ['2/TCP'] }));
    expect(a.usersOf(ip('10.0.0.0'))).toEqual([key('a'), key('b')]);
    expect(a.usersOf(ip('10.0.0.1'))).toEqual([]);
  });
});
