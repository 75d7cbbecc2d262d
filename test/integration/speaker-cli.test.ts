import { spawn } from 'node:child_process';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';
import { cliPath, runCli } from '../helpers/cli.js';

describe('ironlb speaker: usage', () => {
  it.each([
    { name: 'no --node-name', args: [], message: '--node-name: required' },
    { name: 'renew not shorter than the duration', args: ['--node-name', 'a', '--lease-renew', '3', '--lease-duration', '3'], message: '--lease-renew: 3 s must be shorter than --lease-duration 3 s' },
    { name: 'unknown flag', args: ['--node-name', 'a', '--bogus'], message: 'bogus' },
  ])('$name: exit 2, one line', async ({ args, message }) => {
    const r = await runCli(['speaker', ...args], { env: { IRONLB_NODE_NAME: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a missing kubeconfig is one line, exit 1', async () => {
    const r = await runCli(['speaker', '--node-name', 'a', '--no-announce', '--kubeconfig', '/nonexistent/kubeconfig']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('/nonexistent/kubeconfig');
  });
});

describe('ironlb speaker --no-announce against the sandbox API server', () => {
  let api: TestApiServer;

  beforeAll(async () => {
    api = await startTestApiServer({ tls: false });
    const core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'ironlb-system' } } });
    await core.createNode({ body: { metadata: { name: 'solo' } } });
    await core.createNamespacedConfigMap({ namespace: 'ironlb-system', body: { metadata: { name: 'config' }, data: { config: 'address-pools:\n- name: p\n  protocol: layer2\n  addresses: [192.0.2.0/28]\n' } } });
    await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'web' }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } } });
    const svc = await core.readNamespacedService({ name: 'web', namespace: 'default' });
    await core.replaceNamespacedServiceStatus({ name: 'web', namespace: 'default', body: { ...svc, status: { loadBalancer: { ingress: [{ ip: '192.0.2.5' }] } } } });
    const discovery = api.kubeConfig().makeApiClient(k8s.DiscoveryV1Api);
    await discovery.createNamespacedEndpointSlice({
      namespace: 'default',
      body: { metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'], nodeName: 'solo' }] },
    });
  });

  afterAll(async () => {
    await api.close();
  });

  it('holds its Lease, records the IP, emits nodeAssigned, serves /readyz and /metrics, keeps the last good config, and on SIGTERM releases the Lease and exits 0', async () => {
    const child = spawn(process.execPath, [cliPath, 'speaker', '--node-name', 'solo', '--no-announce', '--kubeconfig', api.kubeconfigPath, '--metrics-port', '0', '--metrics-host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code); }));
    try {
      const coord = api.kubeConfig().makeApiClient(k8s.CoordinationV1Api);
      const core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
      const lease = async (): Promise<k8s.V1Lease | undefined> => coord.readNamespacedLease({ name: 'ironlb-speaker-solo', namespace: 'ironlb-system' }).catch(() => undefined);
      for (let i = 0; i < 200 && (await lease())?.metadata?.annotations?.['ironlb.io/announcing'] !== '192.0.2.5'; i++) await new Promise((r) => setTimeout(r, 50));
      const held = await lease();
      expect(held?.spec?.holderIdentity).toBe('solo');
      expect(held?.metadata?.annotations?.['ironlb.io/announcing']).toBe('192.0.2.5');
      const port = Number(/"event":"obsListening","port":(\d+)/.exec(out)?.[1]);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain('ironlb_speaker_announced{service="default/web",ip="192.0.2.5"} 1');
      for (let i = 0; i < 100 && !(await core.listNamespacedEvent({ namespace: 'default' })).items.some((e) => e.reason === 'nodeAssigned'); i++) await new Promise((r) => setTimeout(r, 50));
      const events = (await core.listNamespacedEvent({ namespace: 'default' })).items.filter((e) => e.reason === 'nodeAssigned');
      expect(events.map((e) => e.message)).toEqual(['announcing from node solo with protocol layer2']);
      // A broken config keeps the last good one in force (and says so in a metric).
      const cm = await core.readNamespacedConfigMap({ name: 'config', namespace: 'ironlb-system' });
      await core.replaceNamespacedConfigMap({ name: 'config', namespace: 'ironlb-system', body: { ...cm, data: { config: 'address-pools:\n- name: p\n  protocol: bgp\n' } } });
      const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (let i = 0; i < 100 && !(await metrics()).includes('ironlb_speaker_config_stale 1'); i++) await new Promise((r) => setTimeout(r, 50));
      const after = await metrics();
      expect(after).toContain('ironlb_speaker_config_stale 1');
      expect(after).toContain('ironlb_speaker_announced{service="default/web",ip="192.0.2.5"} 1');
      expect(out).toContain('"event":"configInvalid"');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const released = await lease();
      expect(released?.spec?.holderIdentity).toBe('');
      expect(released?.metadata?.annotations?.['ironlb.io/announcing']).toBe('');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
