import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createController } from '../../src/controller/controller.js';
import { createControllerMetrics } from '../../src/controller/metrics.js';
import type { LeaderRunner, ObjectCache, StatusWriteOutcome, StatusWriter } from '../../src/controller/ports.js';
import type { ConfigMapView } from '../../src/config/config-map.js';
import type { SpeakerLeaseView } from '../../src/controller/quarantine.js';
import type { ServiceView } from '../../src/service/service.js';
import type { EventSink, EventType, ObjectRef } from '../../src/shared/event-sink.js';
import { FakeClock, flushPromises } from '../helpers/fake-clock.js';

type Obj = ServiceView | ConfigMapView | SpeakerLeaseView;

/** An informer over a map: `put`/`remove` change it and call the handler, like a watch event would. */
class FakeInformer<T extends Obj> implements ObjectCache<T> {
  onChange: (obj: T) => void = () => undefined;
  private readonly objects = new Map<string, T>();
  readonly synced = Promise.resolve();

  list(): readonly T[] {
    return [...this.objects.values()];
  }

  get(name: string, namespace?: string): T | undefined {
    return this.objects.get(`${namespace ?? ''}/${name}`);
  }

  hasSynced(): boolean {
    return true;
  }

  lostAt(): number | undefined {
    return undefined;
  }

  async run(signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => { signal.addEventListener('abort', () => { resolve(); }, { once: true }); });
  }

  put(obj: T): void {
    this.objects.set(`${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`, obj);
    this.onChange(obj);
  }

  remove(obj: T): void {
    this.objects.delete(`${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`);
    this.onChange(obj);
  }
}

/** Records status writes; answers 409 `conflicts` times first; a write is echoed back through the informer with a new version. */
class FakeStatus implements StatusWriter {
  readonly writes: string[] = [];
  conflicts = 0;
  private version = 1000;

  constructor(private readonly services: FakeInformer<ServiceView>) {}

  writeIngress(svc: { readonly namespace: string; readonly name: string; readonly resourceVersion: string }, ips: readonly string[]): Promise<StatusWriteOutcome> {
    const current = this.services.get(svc.name, svc.namespace);
    if (current === undefined) return Promise.resolve('notFound');
    if (this.conflicts > 0 || current.metadata?.resourceVersion !== svc.resourceVersion) {
      this.conflicts -= 1;
      this.writes.push(`409 ${svc.name}@${svc.resourceVersion}`);
      return Promise.resolve('conflict');
    }
    this.writes.push(`${svc.name} [${ips.join(' ')}]`);
    this.version += 1;
    this.services.put({ ...current, metadata: { ...current.metadata, resourceVersion: String(this.version) }, status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } } });
    return Promise.resolve('written');
  }
}

class FakeEvents implements EventSink {
  readonly seen: string[] = [];

  emit(ref: ObjectRef, type: EventType, reason: string, message: string): void {
    this.seen.push(`${ref.kind} ${ref.name} ${type} ${reason}: ${message}`);
  }

  async run(signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => { signal.addEventListener('abort', () => { resolve(); }, { once: true }); });
  }
}

/** Grants leadership at once; `lose()` takes it away, as a failed renewal would. */
class FakeLeader implements LeaderRunner {
  private term = new AbortController();

  async run(signal: AbortSignal, lead: (leaderSignal: AbortSignal) => Promise<void>): Promise<void> {
    this.term = new AbortController();
    signal.addEventListener('abort', () => { this.term.abort(); }, { once: true });
    await lead(this.term.signal);
  }

  lose(): void {
    this.term.abort();
  }
}

const pool = (range: string): string => `address-pools:\n- {name: p, protocol: layer2, addresses: [${range}]}\n`;

let rv = 1;
function svc(name: string, opts: { created?: string; ips?: string[]; port?: number; annotations?: Record<string, string> } = {}): ServiceView {
  rv += 1;
  return {
    metadata: { namespace: 'default', name, uid: `uid-${name}`, resourceVersion: String(rv), creationTimestamp: opts.created ?? '2026-01-01T00:00:00Z', annotations: opts.annotations ?? {} },
    spec: { type: 'LoadBalancer', ports: [{ port: opts.port ?? 80, protocol: 'TCP' }] },
    status: { loadBalancer: { ingress: (opts.ips ?? []).map((ip) => ({ ip })) } },
  };
}

function configMap(config: string): ConfigMapView {
  return { metadata: { namespace: 'ironlb-system', name: 'config', uid: 'cm' }, data: { config } };
}

interface Harness {
  readonly services: FakeInformer<ServiceView>;
  readonly configs: FakeInformer<ConfigMapView>;
  readonly leases: FakeInformer<SpeakerLeaseView>;
  readonly status: FakeStatus;
  readonly events: FakeEvents;
  readonly leader: FakeLeader;
  readonly clock: FakeClock;
  readonly stop: AbortController;
  readonly running: Promise<void>;
}

let current: Harness | undefined;

afterEach(async () => {
  current?.stop.abort();
  await current?.running;
  current = undefined;
});

/** Starts a controller over fakes holding `existing` Services and `config`, and lets it settle. */
async function start(config: string | undefined, existing: readonly ServiceView[]): Promise<Harness> {
  const services = new FakeInformer<ServiceView>();
  const configs = new FakeInformer<ConfigMapView>();
  const leases = new FakeInformer<SpeakerLeaseView>();
  for (const s of existing) services.put(s);
  if (config !== undefined) configs.put(configMap(config));
  const status = new FakeStatus(services);
  const events = new FakeEvents();
  const leader = new FakeLeader();
  const clock = new FakeClock();
  const controller = createController({
    openServices: (onChange) => { services.onChange = onChange; return services; },
    openConfigMap: (onChange) => { configs.onChange = onChange; return configs; },
    openSpeakerLeases: (onChange) => { leases.onChange = onChange; return leases; },
    status,
    events,
    leader,
    metrics: createControllerMetrics(new Registry()),
    logger: pino({ level: 'silent' }),
    clock,
    random: () => 0.5,
    namespace: 'ironlb-system',
    configName: 'config',
    lbClass: 'ironlb.io/layer2',
  });
  const stop = new AbortController();
  const running = controller.run(stop.signal);
  current = { services, configs, leases, status, events, leader, clock, stop, running };
  await flushPromises();
  return current;
}

const serviceEvents = (h: Harness): string[] => h.events.seen.filter((e) => e.startsWith('Service '));

describe('the controller shell over fake informers, status writer, Events and leader', () => {
  it('restores IPs from status before it allocates, so a new Service cannot take a restored IP even when it is older', async () => {
    const h = await start(pool('10.0.0.1-10.0.0.2'), [svc('fresh', { created: '2025-01-01T00:00:00Z' }), svc('holder', { created: '2026-06-01T00:00:00Z', ips: ['10.0.0.1'] })]);
    expect(h.status.writes).toEqual(['fresh [10.0.0.2]']);
    expect(serviceEvents(h)).toEqual(['Service fresh Normal IPAllocated: Assigned IP [10.0.0.2] from pool p']);
  });

  it('quarantine: a reported address is moved off with a Warning and never given out; once lifted, a waiting Service gets it', async () => {
    const h = await start(pool('10.0.0.1-10.0.0.3'), []);
    h.services.put(svc('a'));
    await flushPromises();
    expect(h.status.writes).toEqual(['a [10.0.0.1]']);
    const report = (conflicts: string) => ({ metadata: { namespace: 'ironlb-system', name: 'ironlb-speaker-n1', annotations: { 'ironlb.io/conflicts': conflicts } }, spec: { holderIdentity: 'n1' } });
    h.leases.put(report(JSON.stringify([{ ip: '10.0.0.1', mac: '02:00:00:00:00:99', interface: 'eth0' }])));
    await flushPromises();
    expect(h.status.writes.at(-1)).toBe('a [10.0.0.2]');
    expect(serviceEvents(h).at(-1)).toBe('Service a Warning AddressConflict: IP 10.0.0.1 is in use by another host on the LAN (MAC 02:00:00:00:00:99, seen by node n1 on eth0); assigned [10.0.0.2] instead');
    h.services.put(svc('b'));
    h.services.put(svc('c'));
    await flushPromises();
    expect(h.status.writes.filter((w) => w.startsWith('b ') || w.startsWith('c '))).toEqual(['b [10.0.0.3]']);
    h.leases.put(report(''));
    await h.clock.advance(1_000);
    expect(h.status.writes.at(-1)).toBe('c [10.0.0.1]');
  });

  it('writes nothing once leadership is lost', async () => {
    const h = await start(pool('10.0.0.1-10.0.0.2'), []);
    h.services.put(svc('a'));
    await flushPromises();
    h.leader.lose();
    await flushPromises();
    h.services.put(svc('b'));
    await h.clock.advance(60_000);
    expect(h.status.writes).toEqual(['a [10.0.0.1]']);
  });

  it('retries a 409 with backoff on the version the informer holds, and writes once', async () => {
    const h = await start(pool('10.0.0.1-10.0.0.2'), []);
    h.status.conflicts = 2;
    const created = svc('busy');
    h.services.put(created);
    await flushPromises();
    expect(h.status.writes).toEqual([`409 busy@${created.metadata?.resourceVersion ?? ''}`]);
    await h.clock.advance(1_000);
    expect(h.status.writes).toHaveLength(3);
    expect(h.status.writes.at(-1)).toBe('busy [10.0.0.1]');
    expect(serviceEvents(h)).toEqual(['Service busy Normal IPAllocated: Assigned IP [10.0.0.1] from pool p']);
  });

  it('says once why a Service waits, and serves it when the holder of its port moves to another port', async () => {
    const shared = { 'ironlb.io/allow-shared-ip': 'k', 'ironlb.io/loadBalancerIPs': '10.0.0.1' };
    const h = await start(pool('10.0.0.1-10.0.0.1'), [svc('first', { annotations: shared, port: 53, created: '2025-01-01T00:00:00Z' })]);
    h.services.put(svc('second', { annotations: shared, port: 53 }));
    await flushPromises();
    const failed = serviceEvents(h).filter((e) => e.includes('AllocationFailed'));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toContain('port 53/TCP already in use');
    h.services.put(svc('second', { annotations: shared, port: 53 })); // a new version, e.g. a label edit
    await flushPromises();
    expect(serviceEvents(h).filter((e) => e.includes('AllocationFailed'))).toHaveLength(1);
    const first = h.services.get('first', 'default');
    h.services.put({ ...svc('first', { annotations: shared, port: 54, created: '2025-01-01T00:00:00Z' }), status: first?.status ?? {} });
    await flushPromises();
    expect(h.status.writes).toEqual(['first [10.0.0.1]', 'second [10.0.0.1]']);
  });

  it('releases a deleted Service\'s IP without writing to it, and gives the IP to the Service that waited', async () => {
    const h = await start(pool('10.0.0.1-10.0.0.1'), [svc('a', { ips: ['10.0.0.1'] })]);
    h.services.put(svc('b'));
    await flushPromises();
    expect(serviceEvents(h).at(-1)).toContain('Service b Warning AllocationFailed');
    const a = h.services.get('a', 'default');
    if (a === undefined) throw new Error('a vanished');
    h.services.remove(a);
    await flushPromises();
    expect(h.status.writes).toEqual(['b [10.0.0.1]']);
  });

  it('keeps the config in force when a new one is invalid, with one Event however often it is seen', async () => {
    const h = await start(pool('10.0.0.1-10.0.0.2'), []);
    h.configs.put(configMap('address-pools: [{name: x, protocol: bgp, addresses: [10.1.0.0/24]}]\n'));
    await flushPromises();
    h.configs.put(configMap('address-pools: [{name: x, protocol: bgp, addresses: [10.1.0.0/24]}]\n'));
    await flushPromises();
    h.services.put(svc('a'));
    await flushPromises();
    expect(h.status.writes).toEqual(['a [10.0.0.1]']);
    expect(h.events.seen.filter((e) => e.includes('ConfigInvalid'))).toHaveLength(1);
  });

  it('waits for a missing ConfigMap instead of loading no pools, so the IPs in status survive until it appears', async () => {
    const h = await start(undefined, [svc('holder', { ips: ['10.0.0.2'] }), svc('fresh')]);
    expect(h.status.writes).toEqual([]);
    h.configs.put(configMap(pool('10.0.0.1-10.0.0.2')));
    await flushPromises();
    expect(h.status.writes).toEqual(['fresh [10.0.0.1]']);
    expect(h.events.seen.filter((e) => e.includes('not kept'))).toEqual([]);
  });
});
