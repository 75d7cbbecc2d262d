import * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { createKubeRest, loadKubeEndpoint, type KubeRest } from '../../src/k8s/kube-rest.js';
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

/**
 * A KubeRest that records the list requests it sends and runs `afterFirstPage` once, between the
 * first page of a list and the next request: what the cluster does meanwhile.
 */
function recordingRest(inner: KubeRest, afterFirstPage: () => Promise<void>): { rest: KubeRest; lists: string[] } {
  const lists: string[] = [];
  let hooked = false;
  const rest: KubeRest = {
    async request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
      if (method === 'GET') lists.push(path);
      const answer = await inner.request<T>(method, path, body, signal);
      if (!hooked && method === 'GET') {
        hooked = true;
        await afterFirstPage();
      }
      return answer;
    },
    watch: (path, query, onEvent, signal) => inner.watch(path, query, onEvent, signal),
  };
  return { rest, lists };
}

const names = (cache: { list(): readonly k8s.V1ConfigMap[] }): string[] => cache.list().map((c) => c.metadata?.name ?? '').sort();

/** Lists in pages (`limit`/`continue`, as client-go's reflector does), against the sandbox API server, which pages from one snapshot as kube-apiserver does. */
describe('restListWatch lists in pages', () => {
  let api: TestApiServer | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it('asks page by page, caches the snapshot the first page was cut from, and the watch brings what changed meanwhile', async () => {
    api = await startTestApiServer({ tls: false });
    const core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'pages' } } });
    const listed = Array.from({ length: 7 }, (_, i) => `c${String(i)}`);
    for (const name of listed) await core.createNamespacedConfigMap({ namespace: 'pages', body: { metadata: { name } } });
    // Between the first page and the second: one object added, one not yet listed deleted.
    const { rest, lists } = recordingRest(createKubeRest(loadKubeEndpoint({ kubeconfigPath: api.kubeconfigPath, env: {} })), async () => {
      await core.createNamespacedConfigMap({ namespace: 'pages', body: { metadata: { name: 'c9' } } });
      await core.deleteNamespacedConfigMap({ name: 'c6', namespace: 'pages' });
    });
    const cms = restListWatch<k8s.V1ConfigMap>(rest, '/api/v1/namespaces/pages/configmaps', { pageSize: 3 });
    try {
      await cms.start();
      const queries = lists.map((p) => new URLSearchParams(p.split('?')[1] ?? ''));
      expect(queries.map((q) => q.get('limit'))).toEqual(['3', '3', '3']);
      expect(queries.map((q) => q.has('continue'))).toEqual([false, true, true]);
      // The list is the snapshot: c6 still there, c9 not yet.
      expect(names(cms)).toEqual(listed);
      // The watch from the list's resourceVersion brings both changes.
      await waitUntilTrue('the changes watched', () => names(cms).join() === ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c9'].join(), { timeoutMs: 10_000, intervalMs: 20 });
    } finally {
      await cms.stop();
    }
  });

  it('when the snapshot expires between pages (410 Expired), lists again whole, without limit, and caches everything', async () => {
    api = await startTestApiServer({ tls: false, eventLogSize: 5 });
    const core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'expiry' } } });
    for (const name of ['x1', 'x2', 'x3']) await core.createNamespacedConfigMap({ namespace: 'expiry', body: { metadata: { name } } });
    const later = Array.from({ length: 12 }, (_, i) => `y${String(i).padStart(2, '0')}`);
    const { rest, lists } = recordingRest(createKubeRest(loadKubeEndpoint({ kubeconfigPath: api.kubeconfigPath, env: {} })), async () => {
      for (const name of later) await core.createNamespacedConfigMap({ namespace: 'expiry', body: { metadata: { name } } });
    });
    const cms = restListWatch<k8s.V1ConfigMap>(rest, '/api/v1/namespaces/expiry/configmaps', { pageSize: 1 });
    const errors: unknown[] = [];
    cms.onError((e) => errors.push(e));
    try {
      await cms.start();
      expect(errors).toEqual([]);
      const queries = lists.map((p) => new URLSearchParams(p.split('?')[1] ?? ''));
      expect(queries.map((q) => [q.get('limit'), q.has('continue')])).toEqual([['1', false], ['1', true], [null, false]]);
      expect(names(cms)).toEqual(['x1', 'x2', 'x3', ...later]);
    } finally {
      await cms.stop();
    }
  });
});
