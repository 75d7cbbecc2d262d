import * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { createKubeRest, loadKubeEndpoint } from '../../src/k8s/kube-rest.js';
import { restLeaseWriter } from '../../src/k8s/lease-api.js';
import { restListWatch } from '../../src/k8s/rest-list-watch.js';
import { projectService } from '../../src/k8s/speaker-views.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';
import { waitUntilTrue } from '../helpers/wait.js';

/** The speaker's list+watch against the sandbox API server, which records managedFields as kube-apiserver does. */
describe('restListWatch caches objects without their managedFields', () => {
  let api: TestApiServer | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it('drops them from listed and watched objects, and a Lease written back from the cache keeps the stored ones', async () => {
    api = await startTestApiServer({ tls: false });
    const kc = api.kubeConfig();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const coord = kc.makeApiClient(k8s.CoordinationV1Api);
    await core.createNamespace({ body: { metadata: { name: 'ns' } } });
    await core.createNamespacedService({ namespace: 'ns', body: { metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } } });
    await coord.createNamespacedLease({ namespace: 'ns', body: { metadata: { name: 'l' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 40 } } });
    expect((await core.readNamespacedService({ name: 'web', namespace: 'ns' })).metadata?.managedFields?.length).toBeGreaterThan(0);

    const rest = createKubeRest(loadKubeEndpoint({ kubeconfigPath: api.kubeconfigPath, env: {} }));
    const stop = new AbortController();
    const services = restListWatch<k8s.V1Service>(rest, '/api/v1/namespaces/ns/services');
    const leases = restListWatch<k8s.V1Lease>(rest, '/apis/coordination.k8s.io/v1/namespaces/ns/leases');
    const updated: k8s.V1Service[] = [];
    services.on('update', (s) => updated.push(s));
    try {
      await services.start();
      await leases.start();
      const listed = services.get('web', 'ns');
      expect(listed?.spec?.ports?.[0]?.port).toBe(80);
      expect(listed?.metadata).not.toHaveProperty('managedFields');

      const current = await core.readNamespacedService({ name: 'web', namespace: 'ns' });
      await core.replaceNamespacedService({ name: 'web', namespace: 'ns', body: { ...current, metadata: { ...current.metadata, labels: { x: 'y' } } } });
      await waitUntilTrue('the update watched', () => updated.length === 1, { timeoutMs: 10_000, intervalMs: 20 });
      expect(updated[0]?.metadata?.labels).toEqual({ x: 'y' });
      expect(updated[0]?.metadata).not.toHaveProperty('managedFields');
      expect(services.get('web', 'ns')?.metadata).not.toHaveProperty('managedFields');

      // What a standby's reap does: the cached Lease, holder cleared, PUT back.
      const cached = leases.get('l', 'ns');
      expect(cached?.metadata).not.toHaveProperty('managedFields');
      const before = (await coord.readNamespacedLease({ name: 'l', namespace: 'ns' })).metadata?.managedFields ?? [];
      expect(before.length).toBeGreaterThan(0);
      const stored = await restLeaseWriter(rest, 'ns').replace({ ...cached, spec: { ...cached?.spec, holderIdentity: '' } });
      expect(stored).not.toBe('conflict');
      const after = await coord.readNamespacedLease({ name: 'l', namespace: 'ns' });
      expect(after.spec?.holderIdentity ?? '').toBe('');
      // The creator still owns the field the reap left alone: the stored managedFields were kept, not reset.
      expect(after.metadata?.managedFields?.map((m) => m.manager)).toEqual(expect.arrayContaining(before.map((m) => m.manager)));
    } finally {
      stop.abort();
      await services.stop();
      await leases.stop();
    }
  });

  it('with a projection caches and hands out only the projection, keyed and versioned as before', async () => {
    api = await startTestApiServer({ tls: false });
    const core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'ns' } } });
    await core.createNamespacedService({ namespace: 'ns', body: { metadata: { name: 'web', annotations: { big: 'x'.repeat(1000) } }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } } });
    const rest = createKubeRest(loadKubeEndpoint({ kubeconfigPath: api.kubeconfigPath, env: {} }));
    const services = restListWatch(rest, '/api/v1/namespaces/ns/services', {}, projectService);
    const seen: { verb: string; keys: string[] }[] = [];
    for (const verb of ['add', 'update', 'delete'] as const) services.on(verb, (s) => seen.push({ verb, keys: Object.keys(s.metadata) }));
    const projectedKeys = ['namespace', 'name', 'resourceVersion', 'uid'];
    try {
      await services.start();
      expect(services.get('web', 'ns')?.spec?.type).toBe('LoadBalancer');
      expect(Object.keys(services.get('web', 'ns')?.spec ?? {})).toEqual(['type', 'loadBalancerClass', 'externalTrafficPolicy']);
      expect(Object.keys(services.get('web', 'ns')?.metadata ?? {})).toEqual(projectedKeys);

      const current = await core.readNamespacedService({ name: 'web', namespace: 'ns' });
      await core.replaceNamespacedServiceStatus({ name: 'web', namespace: 'ns', body: { ...current, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } } });
      await waitUntilTrue('the status watched', () => services.get('web', 'ns')?.status?.loadBalancer?.ingress?.[0]?.ip === '192.0.2.1', { timeoutMs: 10_000, intervalMs: 20 });
      await core.deleteNamespacedService({ name: 'web', namespace: 'ns' });
      await waitUntilTrue('the delete watched', () => services.get('web', 'ns') === undefined, { timeoutMs: 10_000, intervalMs: 20 });
      expect(seen).toEqual([
        { verb: 'add', keys: projectedKeys },
        { verb: 'update', keys: projectedKeys },
        { verb: 'delete', keys: projectedKeys },
      ]);
    } finally {
      await services.stop();
    }
  });
});
