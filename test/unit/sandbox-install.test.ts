import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/sandbox/apiserver/object.js';
import { loadManifests, logLineText, objectPath, overrideImage, parseKustomization, unreadyPodLines, wanted } from '../../src/sandbox/install.js';
import { speakerNodeFlags } from '../../src/speaker/runtime.js';
import { repoRoot } from '../helpers/cli.js';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** The images of every container of the workload documents, by kind/name. */
function imagesOf(docs: readonly JsonObject[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const d of docs) {
    const spec = (d.spec as { template?: { spec?: { containers?: { image: string }[] } } } | undefined)?.template?.spec;
    if (spec?.containers !== undefined) out[`${String(d.kind)}/${(d.metadata as { name: string }).name}`] = spec.containers.map((c) => c.image);
  }
  return out;
}

describe('sandbox install: manifests/ as kubectl apply -k reads it, ironlb\'s image mapped to the local build', () => {
  it('reads kustomization.yaml\'s resources in order and points both workloads at localhost/ironlb:<version>', async () => {
    const m = await loadManifests(join(repoRoot, 'manifests'), version);
    expect(m.documents[0]?.kind).toBe('Namespace');
    expect(imagesOf(m.documents)).toEqual({ 'Deployment/controller': [`localhost/ironlb:${version}`], 'DaemonSet/speaker': [`localhost/ironlb:${version}`] });
    // Nothing else changes: the speaker's command, env, probes and securityContext are the file's.
    const file = readFileSync(join(repoRoot, 'manifests', 'ironlb.yaml'), 'utf8');
    expect(file).toContain('command: [node, --optimize-for-size, --max-semi-space-size=1, --no-opt, --no-maglev, /app/bin/ironlb.js]');
    const ds = m.documents.find((d) => d.kind === 'DaemonSet') as { spec: { template: { spec: { containers: { command: string[]; securityContext: unknown }[] } } } };
    expect(ds.spec.template.spec.containers[0]?.command).toEqual(['node', ...speakerNodeFlags, '/app/bin/ironlb.js']);
    expect(ds.spec.template.spec.containers[0]?.securityContext).toEqual({ runAsUser: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'], add: ['NET_RAW'] } });
    // Every document is a kind the sandbox serves.
    expect(m.documents.map((d) => objectPath(d)).filter((p) => !p.ok)).toEqual([]);
  });

  it('applies the workloads only when they will run (--no-controller, --no-speakers, no namespaces)', async () => {
    const { documents } = await loadManifests(join(repoRoot, 'manifests'), version);
    const kinds = (c: { controller: boolean; speakers: boolean }): string[] => documents.filter((d) => wanted(d, c)).map((d) => String(d.kind));
    expect(kinds({ controller: true, speakers: true })).toContain('DaemonSet');
    expect(kinds({ controller: false, speakers: true })).not.toContain('Deployment');
    expect(kinds({ controller: true, speakers: false })).not.toContain('DaemonSet');
    expect(kinds({ controller: false, speakers: false })).toContain('ClusterRoleBinding');
  });

  it.each([
    { image: 'ironlb/ironlb:0.1.0', o: [{ name: 'ironlb/ironlb', newTag: '0.2.0' }], want: 'ironlb/ironlb:0.2.0' },
    { image: 'ironlb/ironlb:0.1.0', o: [{ name: 'ironlb/ironlb', newName: 'registry.example.com/ironlb' }], want: 'registry.example.com/ironlb:0.1.0' },
    { image: 'ironlb/ironlb@sha256:abc', o: [{ name: 'ironlb/ironlb', newTag: '1' }], want: 'ironlb/ironlb:1' },
    { image: 'registry:5000/ironlb/ironlb:0.1.0', o: [{ name: 'registry:5000/ironlb/ironlb', newTag: '2' }], want: 'registry:5000/ironlb/ironlb:2' },
    { image: 'nginx:1.15-alpine', o: [{ name: 'ironlb/ironlb', newTag: '2' }], want: 'nginx:1.15-alpine' },
  ])('kustomize images: $image -> $want', ({ image, o, want }) => {
    expect(overrideImage(image, o)).toBe(want);
  });

  it('refuses kustomization fields it does not implement, naming them, and remote resources', () => {
    expect(parseKustomization('resources: [a.yaml]\nnamespace: lb\npatches: []\n', 'k.yaml')).toEqual({ ok: false, error: 'k.yaml: field namespace, patches is not supported by the sandbox (only resources and images)' });
    expect(parseKustomization('resources: [https://example.com/x.yaml]\n', 'k.yaml').ok).toBe(false);
    expect(parseKustomization('images: [{newTag: x}]\n', 'k.yaml')).toEqual({ ok: false, error: 'k.yaml: images[0].name is required' });
  });

  it('a Pod that is not Ready is named with its node, its container\'s state, its readiness probe and its last log line', () => {
    const pod = (name: string, ready: boolean, cs: JsonObject): JsonObject => ({
      metadata: { namespace: 'ironlb-system', name, uid: `uid-${name}` },
      spec: { nodeName: 'node-2', containers: [{ name: 'controller', readinessProbe: { httpGet: { path: '/readyz', port: 'monitoring' } } }] },
      status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], containerStatuses: [{ name: 'controller', ...cs }] },
    });
    const lines = unreadyPodLines(
      [
        pod('controller-a', false, { restartCount: 0, state: { running: { startedAt: 'x' } } }),
        pod('controller-b', true, { restartCount: 0, state: { running: {} } }),
        pod('controller-c', false, { restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } }, lastState: { terminated: { reason: 'Error', exitCode: 1 } } }),
      ],
      (p, c, restarts) => `{"level":50,"msg":"cannot reach the API server","err":{"message":"connect ETIMEDOUT"},"pod":"${(p.metadata as { name: string }).name}/${c}/${String(restarts)}"}`,
    );
    expect(lines).toEqual([
      'Pod ironlb-system/controller-a on node-2: container controller: running, 0 restarts; readiness probe GET /readyz on port monitoring not passing; last log line: cannot reach the API server: connect ETIMEDOUT',
      'Pod ironlb-system/controller-c on node-2: container controller: waiting: CrashLoopBackOff (back-off 40s), 3 restarts, last exit: Error, exit code 1; readiness probe GET /readyz on port monitoring not passing; last log line: cannot reach the API server: connect ETIMEDOUT',
    ]);
    expect(logLineText('plain text line\n')).toBe('plain text line');
  });
});
