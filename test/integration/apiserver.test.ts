import { get } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';
import { runKubectl } from '../helpers/kubectl.js';
import { waitUntilTrue } from '../helpers/wait.js';

function svc(name: string, extra: Partial<k8s.V1Service> = {}): k8s.V1Service {
  return { metadata: { name, labels: { app: 'demo' } }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] }, ...extra };
}

async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e: unknown) {
    return (e as { code?: number }).code ?? -1;
  }
}

/** Reads a raw watch stream until `count` lines arrived or the stream ends. */
/** One watch event as the test read it, with the local time it arrived. */
interface WatchLine {
  readonly type: string;
  readonly object: Record<string, unknown>;
  readonly at: number;
}

/** Reads watch events until `count` have come (BOOKMARKs not counted with `skipBookmarks`; still returned). */
async function watchLines(url: string, token: string, path: string, count: number, opts: { skipBookmarks?: boolean } = {}): Promise<WatchLine[]> {
  const out: WatchLine[] = [];
  const counted = (): number => (opts.skipBookmarks === true ? out.filter((e) => e.type !== 'BOOKMARK').length : out.length);
  await new Promise<void>((resolve, reject) => {
    const req = get(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buffer += d;
        let nl = buffer.indexOf('\n');
        while (nl >= 0 && counted() < count) {
          out.push({ ...(JSON.parse(buffer.slice(0, nl)) as { type: string; object: Record<string, unknown> }), at: Date.now() });
          buffer = buffer.slice(nl + 1);
          nl = buffer.indexOf('\n');
        }
        if (counted() >= count) {
          req.destroy();
          resolve();
        }
      });
      res.on('end', () => {
        resolve();
      });
    });
    req.on('error', (e) => {
      if (counted() >= count) resolve();
      else reject(e);
    });
  });
  return out;
}

describe('sandbox API server over HTTP with client-node', () => {
  let api: TestApiServer;
  let core: k8s.CoreV1Api;
  let coord: k8s.CoordinationV1Api;

  beforeAll(async () => {
    api = await startTestApiServer({ tls: false, eventLogSize: 5, bookmarkIntervalMs: 100 });
    core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    coord = api.kubeConfig().makeApiClient(k8s.CoordinationV1Api);
  });
  afterAll(async () => {
    await api.close();
  });
  afterEach(async () => {
    api.server.faults.fail = undefined;
    api.server.faults.latencyMs = 0;
    await core.deleteCollectionNamespacedService({ namespace: 'default' });
  });

  it('refuses requests without the bearer token with 401', async () => {
    const res = await fetch(`${api.url}/api/v1/namespaces`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
  });

  it('serves discovery documents that client-node and kubectl read', async () => {
    const versions = await api.kubeConfig().makeApiClient(k8s.CoreApi).getAPIVersions();
    expect(versions.versions).toEqual(['v1']);
    const groups = await api.kubeConfig().makeApiClient(k8s.ApisApi).getAPIVersions();
    expect(groups.groups.map((g) => g.name).sort()).toEqual(['apps', 'coordination.k8s.io', 'discovery.k8s.io', 'events.k8s.io', 'rbac.authorization.k8s.io']);
    const resources = await core.getAPIResources();
    expect(resources.resources.map((r) => r.name)).toEqual(expect.arrayContaining(['services', 'services/status', 'configmaps', 'nodes']));
  });

  it('creates with uid, timestamp, generation and a cluster-wide increasing resourceVersion', async () => {
    const a = await core.createNamespacedService({ namespace: 'default', body: svc('a') });
    const b = await core.createNamespacedService({ namespace: 'default', body: svc('b') });
    expect(a.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(a.metadata?.generation).toBe(1);
    expect(Number(b.metadata?.resourceVersion)).toBeGreaterThan(Number(a.metadata?.resourceVersion));
    expect(await statusOf(core.createNamespacedService({ namespace: 'default', body: svc('a') }))).toBe(409);
  });

  it('generates names from generateName', async () => {
    const made = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { generateName: 'cm-' } } });
    expect(made.metadata?.name).toMatch(/^cm-[a-z0-9]{5}$/);
  });

  it('answers 404 with a Status naming the object, and for a missing namespace', async () => {
    const res = await fetch(`${api.url}/api/v1/namespaces/default/services/nope`, { headers: { authorization: `Bearer ${api.token}` } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ kind: 'Status', reason: 'NotFound', message: 'services "nope" not found', details: { name: 'nope', kind: 'services' } });
    expect(await statusOf(core.createNamespacedService({ namespace: 'nowhere', body: svc('x') }))).toBe(404);
  });

  it('refuses an update with a stale resourceVersion with 409 and a Service update without one with 422', async () => {
    const created = await core.createNamespacedService({ namespace: 'default', body: svc('c') });
    const fresh = await core.replaceNamespacedService({ name: 'c', namespace: 'default', body: { ...created, metadata: { ...created.metadata, labels: { app: 'x' } } } });
    expect(fresh.metadata?.labels).toEqual({ app: 'x' });
    expect(await statusOf(core.replaceNamespacedService({ name: 'c', namespace: 'default', body: created }))).toBe(409);
    const noRv = { ...fresh, metadata: { name: 'c', labels: { app: 'y' } } };
    expect(await statusOf(core.replaceNamespacedService({ name: 'c', namespace: 'default', body: noRv }))).toBe(422);
  });

  it('keeps status out of main-resource writes and spec out of status writes', async () => {
    const created = await core.createNamespacedService({ namespace: 'default', body: { ...svc('d'), status: { loadBalancer: { ingress: [{ ip: '1.1.1.1' }] } } } });
    expect(created.status?.loadBalancer?.ingress).toBeUndefined();
    const withStatus = await core.replaceNamespacedServiceStatus({
      name: 'd',
      namespace: 'default',
      body: { ...created, spec: { ...created.spec, type: 'ClusterIP' }, status: { loadBalancer: { ingress: [{ ip: '172.31.213.200' }] } } },
    });
    expect(withStatus.spec?.type).toBe('LoadBalancer');
    expect(withStatus.status?.loadBalancer?.ingress).toEqual([{ ip: '172.31.213.200' }]);
    const main = await core.replaceNamespacedService({ name: 'd', namespace: 'default', body: { ...withStatus, status: {} } });
    expect(main.status?.loadBalancer?.ingress).toEqual([{ ip: '172.31.213.200' }]);
  });

  it('applies merge, JSON and strategic merge patches; a patch naming a stale resourceVersion conflicts', async () => {
    const created = await core.createNamespacedService({ namespace: 'default', body: svc('e') });
    const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    const strategic = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);
    const json = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);
    await core.patchNamespacedService({ name: 'e', namespace: 'default', body: { metadata: { annotations: { a: '1' } } } }, merge);
    await core.patchNamespacedService({ name: 'e', namespace: 'default', body: { spec: { ports: [{ port: 443 }] } } }, strategic);
    const patched = await core.patchNamespacedService({ name: 'e', namespace: 'default', body: [{ op: 'add', path: '/spec/sessionAffinity', value: 'ClientIP' }] }, json);
    expect(patched.metadata?.annotations).toEqual({ a: '1' });
    expect(patched.spec?.ports?.map((p) => p.port)).toEqual([80, 443]);
    expect(patched.spec?.sessionAffinity).toBe('ClientIP');
    expect(patched.metadata?.generation).toBe(3);
    const stale = { metadata: { resourceVersion: created.metadata?.resourceVersion ?? '', labels: { z: '1' } } };
    expect(await statusOf(core.patchNamespacedService({ name: 'e', namespace: 'default', body: stale }, merge))).toBe(409);
  });

  it('does not bump the resourceVersion for a write that changes nothing', async () => {
    const created = await core.createNamespacedService({ namespace: 'default', body: svc('f') });
    const again = await core.replaceNamespacedService({ name: 'f', namespace: 'default', body: created });
    expect(again.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
  });

  it('lists with label and field selectors and pages with limit/continue', async () => {
    for (const name of ['p1', 'p2', 'p3']) await core.createNamespacedService({ namespace: 'default', body: svc(name, { metadata: { name, labels: { tier: name === 'p2' ? 'b' : 'a' } } }) });
    expect((await core.listNamespacedService({ namespace: 'default', labelSelector: 'tier=a' })).items.map((s) => s.metadata?.name)).toEqual(['p1', 'p3']);
    expect((await core.listNamespacedService({ namespace: 'default', labelSelector: 'tier in (b)' })).items.map((s) => s.metadata?.name)).toEqual(['p2']);
    expect((await core.listServiceForAllNamespaces({ fieldSelector: 'metadata.name=p3' })).items.map((s) => s.metadata?.namespace)).toEqual(['default']);
    const page1 = await core.listNamespacedService({ namespace: 'default', limit: 2 });
    expect(page1.items).toHaveLength(2);
    expect(page1.metadata?.remainingItemCount).toBe(1);
    const page2 = await core.listNamespacedService({ namespace: 'default', limit: 2, _continue: page1.metadata?._continue ?? '' });
    expect(page2.items.map((s) => s.metadata?.name)).toEqual(['p3']);
    expect(page2.metadata?._continue).toBeUndefined();
  });

  it('lists in key order (namespace, then name), not creation order, as etcd range reads do', async () => {
    await core.createNamespace({ body: { metadata: { name: 'keyorder' } } });
    for (const name of ['k-c', 'k-a', 'k-b']) await core.createNamespacedConfigMap({ namespace: 'keyorder', body: { metadata: { name } } });
    expect((await core.listNamespacedConfigMap({ namespace: 'keyorder' })).items.map((c) => c.metadata?.name)).toEqual(['k-a', 'k-b', 'k-c']);
    const all = (await core.listConfigMapForAllNamespaces()).items.map((c) => `${String(c.metadata?.namespace)}/${String(c.metadata?.name)}`);
    expect(all).toEqual([...all].sort());
  });

  it('pages from the first page\'s snapshot: objects written between pages neither show up nor go missing, every page has its resourceVersion', async () => {
    await core.createNamespace({ body: { metadata: { name: 'paging' } } });
    for (const name of ['a', 'b', 'c', 'd', 'e']) await core.createNamespacedConfigMap({ namespace: 'paging', body: { metadata: { name }, data: { v: '1' } } });
    const page1 = await core.listNamespacedConfigMap({ namespace: 'paging', limit: 2 });
    expect(page1.items.map((c) => c.metadata?.name)).toEqual(['a', 'b']);
    expect(page1.metadata?.remainingItemCount).toBe(3);
    // Offset paging (as this server did) skipped "c" here: "a" is gone, so everything moved up one.
    await core.deleteNamespacedConfigMap({ name: 'a', namespace: 'paging' });
    await core.deleteNamespacedConfigMap({ name: 'c', namespace: 'paging' });
    await core.createNamespacedConfigMap({ namespace: 'paging', body: { metadata: { name: 'bb' } } });
    await core.patchNamespacedConfigMap({ name: 'd', namespace: 'paging', body: { data: { v: '2' } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    const page2 = await core.listNamespacedConfigMap({ namespace: 'paging', limit: 2, _continue: page1.metadata?._continue ?? '' });
    expect(page2.items.map((c) => `${String(c.metadata?.name)}=${String(c.data?.v)}`)).toEqual(['c=1', 'd=1']);
    expect(page2.metadata?.resourceVersion).toBe(page1.metadata?.resourceVersion);
    const page3 = await core.listNamespacedConfigMap({ namespace: 'paging', limit: 2, _continue: page2.metadata?._continue ?? '' });
    expect(page3.items.map((c) => c.metadata?.name)).toEqual(['e']);
    expect(page3.metadata?._continue).toBeUndefined();
    // The newest state, listed afresh.
    expect((await core.listNamespacedConfigMap({ namespace: 'paging' })).items.map((c) => c.metadata?.name)).toEqual(['b', 'bb', 'd', 'e']);
    // With a selector the remaining count is unknown, and left out.
    expect((await core.listNamespacedConfigMap({ namespace: 'paging', limit: 1, fieldSelector: 'metadata.namespace=paging' })).metadata?.remainingItemCount).toBeUndefined();
  });

  it('a continue token whose resourceVersion left the log: 410 Expired with kube-apiserver\'s message and a token that goes on at the newest state', async () => {
    await core.createNamespace({ body: { metadata: { name: 'expiry' } } });
    for (const name of ['x1', 'x2', 'x3']) await core.createNamespacedConfigMap({ namespace: 'expiry', body: { metadata: { name } } });
    const page1 = await core.listNamespacedConfigMap({ namespace: 'expiry', limit: 1 });
    for (let i = 0; i < 12; i += 1) await core.createNamespacedConfigMap({ namespace: 'expiry', body: { metadata: { name: `x9-${String(i)}` } } });
    const res = await fetch(`${api.url}/api/v1/namespaces/expiry/configmaps?limit=1&continue=${encodeURIComponent(page1.metadata?._continue ?? '')}`, { headers: { authorization: `Bearer ${api.token}` } });
    expect(res.status).toBe(410);
    const status = (await res.json()) as { reason: string; message: string; metadata: { continue?: string } };
    expect(status.reason).toBe('Expired');
    expect(status.message).toMatch(/^The provided continue parameter is too old to display a consistent list result\. You can start a new list without the continue parameter, or use the continue token in this response/);
    const rest = await core.listNamespacedConfigMap({ namespace: 'expiry', _continue: status.metadata.continue ?? '' });
    expect(rest.items.map((c) => c.metadata?.name)).toEqual(['x2', 'x3', ...Array.from({ length: 12 }, (_, i) => `x9-${String(i)}`).sort()]);
    expect(await statusOf(core.listNamespacedConfigMap({ namespace: 'expiry', _continue: 'not-a-token' }))).toBe(400);
  });

  it('watches from a resourceVersion in order, with bookmarks when asked', async () => {
    const a = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'w1' } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'w2' } } });
    await core.deleteNamespacedConfigMap({ name: 'w1', namespace: 'default' });
    const rv = a.metadata?.resourceVersion ?? '';
    const events = await watchLines(api.url, api.token, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true`, 3);
    expect(events.map((e) => `${e.type} ${String((e.object.metadata as { name?: string }).name)}`)).toEqual(['ADDED w2', 'DELETED w1', 'BOOKMARK undefined']);
    await core.deleteNamespacedConfigMap({ name: 'w2', namespace: 'default' });
  });

  it('lists at an older resourceVersion with resourceVersionMatch=Exact; too old is 410, newer than the newest a 504 Timeout', async () => {
    await core.createNamespace({ body: { metadata: { name: 'exact' } } });
    const first = await core.createNamespacedConfigMap({ namespace: 'exact', body: { metadata: { name: 'e1' } } });
    await core.createNamespacedConfigMap({ namespace: 'exact', body: { metadata: { name: 'e2' } } });
    const rv = first.metadata?.resourceVersion ?? '';
    const then = await core.listNamespacedConfigMap({ namespace: 'exact', resourceVersion: rv, resourceVersionMatch: 'Exact' });
    expect(then.items.map((c) => c.metadata?.name)).toEqual(['e1']);
    expect(then.metadata?.resourceVersion).toBe(rv);
    expect((await core.listNamespacedConfigMap({ namespace: 'exact', resourceVersion: rv, resourceVersionMatch: 'NotOlderThan' })).items).toHaveLength(2);
    expect((await core.listNamespacedConfigMap({ namespace: 'exact', resourceVersion: rv })).items, 'no match, no limit: not older than').toHaveLength(2);
    expect((await core.listNamespacedConfigMap({ namespace: 'exact', resourceVersion: rv, limit: 5 })).items.map((c) => c.metadata?.name), 'no match with a limit: exact (legacy)').toEqual(['e1']);
    const get = async (query: string): Promise<{ status: number; body: { reason?: string; message?: string } }> => {
      const res = await fetch(`${api.url}/api/v1/namespaces/exact/configmaps?${query}`, { headers: { authorization: `Bearer ${api.token}` } });
      return { status: res.status, body: (await res.json()) as { reason?: string; message?: string } };
    };
    const tooLarge = await get(`resourceVersion=${String(Number(rv) + 1_000_000)}`);
    expect([tooLarge.status, tooLarge.body.reason]).toEqual([504, 'Timeout']);
    expect(tooLarge.body.message).toMatch(/^Timeout: Too large resource version: \d+, current: \d+$/);
    for (let i = 0; i < 12; i += 1) await core.createNamespacedConfigMap({ namespace: 'exact', body: { metadata: { name: `e9-${String(i)}` } } });
    const tooOld = await get(`resourceVersion=${rv}&resourceVersionMatch=Exact`);
    expect([tooOld.status, tooOld.body.reason, tooOld.body.message]).toEqual([410, 'Expired', 'The resourceVersion for the provided list is too old.']);
  });

  it('replays a deleted object\'s earlier events with their own resourceVersions, not the delete\'s', async () => {
    const before = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'r0' } } });
    const created = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'r1' } } });
    await core.deleteNamespacedConfigMap({ name: 'r1', namespace: 'default' });
    const events = await watchLines(api.url, api.token, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${before.metadata?.resourceVersion ?? ''}&fieldSelector=metadata.name%3Dr1`, 2);
    const rvs = events.map((e) => `${e.type} ${String((e.object.metadata as { resourceVersion?: string }).resourceVersion)}`);
    expect(rvs[0]).toBe(`ADDED ${created.metadata?.resourceVersion ?? ''}`);
    expect(rvs[1]).toMatch(/^DELETED \d+$/);
    expect(rvs[1]).not.toBe(`DELETED ${created.metadata?.resourceVersion ?? ''}`);
    await core.deleteNamespacedConfigMap({ name: 'r0', namespace: 'default' });
  });

  it('answers a watch from a compacted resourceVersion with a 410 Expired ERROR event', async () => {
    const first = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'old' } } });
    for (let i = 0; i < 12; i += 1) await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `churn-${String(i)}` } } });
    const events = await watchLines(api.url, api.token, `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${first.metadata?.resourceVersion ?? ''}`, 1);
    expect(events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
    await core.deleteCollectionNamespacedConfigMap({ namespace: 'default' });
  });

  it('keeps a client-node informer in sync across a compaction and cut watches (relist after 410)', async () => {
    const kc = api.kubeConfig();
    const informer = k8s.makeInformer(kc, '/api/v1/namespaces/default/services', () => core.listNamespacedService({ namespace: 'default' }));
    const errors: unknown[] = [];
    informer.on('error', (e: unknown) => errors.push(e));
    await informer.start();
    await core.createNamespacedService({ namespace: 'default', body: svc('i1') });
    await waitFor(() => informer.list().length === 1);
    api.server.faults.compact();
    for (let i = 0; i < 8; i += 1) await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `noise-${String(i)}` } } });
    api.server.faults.closeWatches();
    await core.createNamespacedService({ namespace: 'default', body: svc('i2') });
    await waitFor(() => informer.list().length === 2);
    expect(informer.list().map((s) => s.metadata?.name).sort()).toEqual(['i1', 'i2']);
    await informer.stop();
    await core.deleteCollectionNamespacedConfigMap({ namespace: 'default' });
  });

  it('injects failures and latency through the admin endpoint and counts requests per user', async () => {
    const post = (body: unknown): Promise<Response> =>
      fetch(`${api.url}/sandbox/v1/faults`, { method: 'POST', headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ fail: { code: 429, rate: 1, verbs: ['list'] } })).status).toBe(200);
    expect(await statusOf(core.listNamespacedService({ namespace: 'default' }))).toBe(429);
    expect(await statusOf(core.readNamespace({ name: 'default' }))).toBe(200);
    expect((await post({ fail: null })).status).toBe(200);
    expect(await statusOf(core.listNamespacedService({ namespace: 'default' }))).toBe(200);
    const counts = (await (await fetch(`${api.url}/sandbox/v1/requests`, { headers: { authorization: `Bearer ${api.token}` } })).json()) as { counts: Record<string, number> };
    expect(counts.counts['admin list services']).toBeGreaterThanOrEqual(2);
  });

  it('counts watch events delivered, once per matching stream, in the admin endpoint', async () => {
    const read = async (): Promise<number> =>
      ((await (await fetch(`${api.url}/sandbox/v1/requests`, { headers: { authorization: `Bearer ${api.token}` } })).json()) as { watchEvents: number }).watchEvents;
    const before = await read();
    const rv = (await coord.listNamespacedLease({ namespace: 'default' })).metadata?.resourceVersion ?? '';
    // Two streams see both Leases; the third selects one of them by name.
    const streams = [
      watchLines(api.url, api.token, `/apis/coordination.k8s.io/v1/namespaces/default/leases?watch=true&resourceVersion=${rv}`, 2),
      watchLines(api.url, api.token, `/apis/coordination.k8s.io/v1/namespaces/default/leases?watch=true&resourceVersion=${rv}`, 2),
      watchLines(api.url, api.token, `/apis/coordination.k8s.io/v1/namespaces/default/leases?watch=true&resourceVersion=${rv}&fieldSelector=metadata.name%3Dcounted-b`, 1),
    ];
    await new Promise((r) => setTimeout(r, 200));
    for (const name of ['counted-a', 'counted-b']) await coord.createNamespacedLease({ namespace: 'default', body: { metadata: { name }, spec: { holderIdentity: 'x', leaseDurationSeconds: 3 } } });
    await Promise.all(streams);
    expect((await read()) - before).toBe(5);
    for (const name of ['counted-a', 'counted-b']) await coord.deleteNamespacedLease({ name, namespace: 'default' });
  });

  it('stalls the watches of one user and resource: open, but silent (no event, no BOOKMARK), until cleared', async () => {
    const rv = (await coord.listNamespacedLease({ namespace: 'default' })).metadata?.resourceVersion ?? '';
    api.server.faults.stallWatches = { user: 'admin', resource: 'leases' };
    try {
      // Bookmarks (every 100 ms here) flow again once the stall is cleared, and may come before
      // the next event: counted out, but any line that came while stalled fails the test below.
      const leases = watchLines(api.url, api.token, `/apis/coordination.k8s.io/v1/namespaces/default/leases?watch=true&allowWatchBookmarks=true&resourceVersion=${rv}`, 1, { skipBookmarks: true });
      const configMaps = watchLines(api.url, api.token, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}`, 1);
      await new Promise((r) => setTimeout(r, 100));
      await coord.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'stalled-a' }, spec: { holderIdentity: 'x', leaseDurationSeconds: 3 } } });
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'not-stalled' } } });
      // Another resource of the same user still flows.
      expect((await configMaps).map((e) => `${e.type} ${String((e.object.metadata as { name?: string }).name)}`)).toEqual(['ADDED not-stalled']);
      const silent = await Promise.race([leases.then(() => 'delivered'), new Promise((r) => setTimeout(() => { r('silent'); }, 500))]);
      expect(silent).toBe('silent');
      const cleared = Date.now();
      api.server.faults.stallWatches = undefined;
      await coord.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'stalled-b' }, spec: { holderIdentity: 'x', leaseDurationSeconds: 3 } } });
      const after = await leases;
      expect(after.filter((e) => e.at < cleared).map((e) => e.type), 'lines delivered while stalled').toEqual([]);
      // The stream is alive again; what it missed stays missed (the client resumes after a cut to catch up).
      expect(after.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type} ${String((e.object.metadata as { name?: string }).name)}`)).toEqual(['ADDED stalled-b']);
    } finally {
      api.server.faults.stallWatches = undefined;
      api.server.faults.closeWatches();
      for (const name of ['stalled-a', 'stalled-b']) await coord.deleteNamespacedLease({ name, namespace: 'default' }).catch(() => undefined);
      await core.deleteCollectionNamespacedConfigMap({ namespace: 'default' });
    }
  });

  it('serves Leases for optimistic-concurrency leader election', async () => {
    const lease = await coord.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'l' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 3 } } });
    const renewed = await coord.replaceNamespacedLease({ name: 'l', namespace: 'default', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } } });
    expect(renewed.spec?.holderIdentity).toBe('b');
    expect(await statusOf(coord.replaceNamespacedLease({ name: 'l', namespace: 'default', body: lease }))).toBe(409);
    await coord.deleteNamespacedLease({ name: 'l', namespace: 'default' });
  });
});

describe('sandbox API server authorization and persistence', () => {
  it('answers 403 Forbidden shaped like kube-apiserver when the authorizer says no', async () => {
    const api = await startTestApiServer({ tls: false, users: new Map([['sa-token', 'system:serviceaccount:ironlb-system:speaker']]), authorizer: (a) => a.verb !== 'create' });
    try {
      const core = api.kubeConfig('sa-token').makeApiClient(k8s.CoreV1Api);
      expect(await statusOf(core.listNamespacedService({ namespace: 'default' }))).toBe(200);
      const res = await fetch(`${api.url}/api/v1/namespaces/default/services`, { method: 'POST', headers: { authorization: 'Bearer sa-token', 'content-type': 'application/json' }, body: JSON.stringify(svc('x')) });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({
        reason: 'Forbidden',
        message: 'services is forbidden: User "system:serviceaccount:ironlb-system:speaker" cannot create resource "services" in API group "" in the namespace "default"',
      });
    } finally {
      await api.close();
    }
  });

  it('keeps objects and resourceVersions across a restart when given a state file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ironlb-state-'));
    const statePath = join(dir, 'state.json');
    try {
      const first = await startTestApiServer({ tls: false, statePath });
      const made = await first.kubeConfig().makeApiClient(k8s.CoreV1Api).createNamespacedService({ namespace: 'default', body: svc('kept') });
      await first.close();
      const second = await startTestApiServer({ tls: false, statePath });
      try {
        const read = await second.kubeConfig().makeApiClient(k8s.CoreV1Api).readNamespacedService({ name: 'kept', namespace: 'default' });
        expect(read.metadata?.uid).toBe(made.metadata?.uid);
        expect(read.metadata?.resourceVersion).toBe(made.metadata?.resourceVersion);
        const next = await second.kubeConfig().makeApiClient(k8s.CoreV1Api).createNamespacedService({ namespace: 'default', body: svc('new') });
        expect(Number(next.metadata?.resourceVersion)).toBeGreaterThan(Number(made.metadata?.resourceVersion));
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('sandbox API server over HTTPS', () => {
  it('serves client-node and the real kubectl with a bearer token over TLS', async () => {
    const api = await startTestApiServer();
    try {
      expect(api.url).toMatch(/^https:/);
      const ns = await api.kubeConfig().makeApiClient(k8s.CoreV1Api).listNamespace();
      expect(ns.items.map((n) => n.metadata?.name)).toContain('default');
      const out = await runKubectl(api.kubeconfigPath, ['get', 'namespaces', '-o', 'name']);
      expect(out.stdout.split('\n')).toContain('namespace/kube-system');
    } finally {
      await api.close();
    }
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  await waitUntilTrue('the condition', cond, { timeoutMs, intervalMs: 20 });
}
