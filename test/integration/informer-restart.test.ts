import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { clientNodeListWatch } from '../../src/k8s/client.js';
import { createInformer, type ListWatchSource } from '../../src/k8s/informer.js';
import { createKubeRest, loadKubeEndpoint } from '../../src/k8s/kube-rest.js';
import { restListWatch } from '../../src/k8s/rest-list-watch.js';
import { createLogger } from '../../src/obs/logger.js';
import { systemClock } from '../../src/sys/clock.js';
import { startTestApiServer } from '../helpers/apiserver.js';
import { waitUntilTrue } from '../helpers/wait.js';

async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  await waitUntilTrue(what, cond, { timeoutMs, intervalMs: 20 });
}

type SourceOf = (kc: k8s.KubeConfig, kubeconfigPath: string) => ListWatchSource<k8s.V1Service>;

describe('ironlb informer against a restarting sandbox API server', () => {
  it.each<{ name: string; source: SourceOf }>([
    { name: "client-node's ListWatch (controller)", source: (kc) => clientNodeListWatch(kc, '/api/v1/services', () => kc.makeApiClient(k8s.CoreV1Api).listServiceForAllNamespaces()) },
    { name: 'restListWatch (speaker)', source: (_kc, path) => restListWatch(createKubeRest(loadKubeEndpoint({ kubeconfigPath: path, env: {} })), '/api/v1/services') },
  ])('$name keeps its cache through an API server restart, a 500 storm and a compaction', async ({ source }) => {
    const dir = await mkdtemp(join(tmpdir(), 'ironlb-informer-'));
    const statePath = join(dir, 'state.json');
    let api = await startTestApiServer({ statePath, eventLogSize: 5 });
    const { port, token, cert } = { port: api.server.port, token: api.token, cert: api.cert };
    const kc = api.kubeConfig();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const stop = new AbortController();
    const seen: string[] = [];
    let healthChanges = 0;
    const informer = createInformer<k8s.V1Service>({
      source: source(kc, api.kubeconfigPath),
      path: '/api/v1/services',
      logger: createLogger({ level: 'silent', format: 'json' }),
      clock: systemClock,
      backoff: { baseMs: 50, maxMs: 500, jitter: 0 },
      onChange: (kind, obj) => seen.push(`${kind} ${obj.metadata?.name ?? ''}`),
      onHealthChange: () => { healthChanges += 1; },
    });
    const running = informer.run(stop.signal);
    try {
      await informer.synced;
      await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'before' }, spec: { ports: [{ port: 80 }] } } });
      await waitFor(() => informer.list().length === 1, 'the first Service');
      expect(informer.lostAt()).toBeUndefined();
      expect(informer.lastGap()).toBeUndefined();

      await api.close();
      await waitFor(() => informer.lostAt() !== undefined, 'the watch reported lost');
      const lost = informer.lostAt();
      await new Promise((r) => setTimeout(r, 300));
      expect(informer.lostAt(), 'lostAt stays the time the watch was first lost').toBe(lost);
      api = await startTestApiServer({ statePath, port, token, ...(cert === undefined ? {} : { cert }), eventLogSize: 5 });
      await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'after-restart' }, spec: { ports: [{ port: 80 }] } } });
      await waitFor(() => informer.list().length === 2, 'the Service created after the restart');
      await waitFor(() => informer.lostAt() === undefined, 'the watch back');
      expect(healthChanges).toBeGreaterThanOrEqual(2);
      const gap = informer.lastGap();
      expect(gap?.from, 'the gap starts when the watch was first lost').toBe(lost);
      expect((gap?.to ?? 0) - (gap?.from ?? 0), 'and lasts at least the 300 ms the API server was away').toBeGreaterThanOrEqual(300);

      api.server.faults.fail = { code: 500, rate: 1, verbs: ['list', 'watch'] };
      api.server.faults.closeWatches();
      api.server.faults.compact();
      await new Promise((r) => setTimeout(r, 300));
      api.server.faults.fail = undefined;
      await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'after-storm' }, spec: { ports: [{ port: 80 }] } } });
      await waitFor(() => informer.list().length === 3, 'the Service created after the 500 storm');
      expect(informer.list().map((s) => s.metadata?.name).sort()).toEqual(['after-restart', 'after-storm', 'before']);
      expect(seen.filter((s) => s.startsWith('delete'))).toEqual([]);
    } finally {
      stop.abort();
      await running;
      await api.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
