import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { speakerNodeFlags } from '../../src/speaker/runtime.js';
import { repoRoot, runSourceCli as runCli, sourceCliTimeoutMs } from '../helpers/cli.js';

type Doc = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string } };

interface Validatable {
  validate(): void;
}

function load(dir: string): { file: string; doc: Doc }[] {
  const out: { file: string; doc: Doc }[] = [];
  for (const file of readdirSync(join(repoRoot, dir)).filter((f) => f.endsWith('.yaml'))) {
    for (const d of parseAllDocuments(readFileSync(join(repoRoot, dir, file), 'utf8'))) {
      expect(d.errors, `${dir}/${file}`).toEqual([]);
      out.push({ file: `${dir}/${file}`, doc: d.toJS() as Doc });
    }
  }
  return out;
}

/** The kubernetes-models class of an object (generated from the Kubernetes OpenAPI schema). */
async function modelOf(doc: Doc): Promise<new (data: unknown) => Validatable> {
  const mod = (await import(`kubernetes-models/${doc.apiVersion}/${doc.kind}`)) as Record<string, new (data: unknown) => Validatable>;
  const model = mod[doc.kind];
  if (model === undefined) throw new Error(`no model for ${doc.apiVersion} ${doc.kind}`);
  return model;
}

// kustomization.yaml is kustomize's, not an API object (test/integration/kustomize.test.ts checks it).
const docs = [...load('manifests').filter((d) => (d.doc as Partial<Doc>).kind !== 'Kustomization'), ...load('config').filter((d) => typeof (d.doc as Partial<Doc>).kind === 'string')];
const byKind = (kind: string, name: string): Doc => {
  const found = docs.find((d) => d.doc.kind === kind && d.doc.metadata.name === name)?.doc;
  if (found === undefined) throw new Error(`${kind} ${name} missing from manifests/`);
  return found;
};

interface Probe {
  httpGet?: { path?: string; port?: string | number };
}
interface Container {
  securityContext?: {
    capabilities?: { add?: string[]; drop?: string[] };
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    privileged?: boolean;
    runAsNonRoot?: boolean;
    runAsUser?: number;
  };
  args?: string[];
  env?: { name: string; valueFrom?: { fieldRef?: { fieldPath?: string } } }[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  tolerations?: { key?: string; operator?: string; effect?: string }[];
  hostNetwork?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[];
  serviceAccountName?: string;
}
const podSpec = (doc: Doc): PodSpec => (doc.spec as { template: { spec: PodSpec } }).template.spec;

describe('manifests and example ConfigMaps', () => {
  it('has the objects a cluster needs', () => {
    expect(docs.map((d) => `${d.doc.kind}/${d.doc.metadata.name}`)).toEqual(
      expect.arrayContaining(['Namespace/ironlb-system', 'ServiceAccount/controller', 'ServiceAccount/speaker', 'Deployment/controller', 'DaemonSet/speaker', 'ConfigMap/config']),
    );
  });

  it.each(docs.map((d) => ({ name: `${d.file}: ${d.doc.kind}/${d.doc.metadata.name}`, doc: d.doc })))('$name validates against the Kubernetes OpenAPI schema', async ({ doc }) => {
    const Model = await modelOf(doc);
    expect(() => {
      new Model(doc).validate();
    }).not.toThrow();
  });

  it('the schema check can fail: a wrongly typed field is refused', async () => {
    const broken = structuredClone(byKind('DaemonSet', 'speaker'));
    (podSpec(broken).containers[0] as { securityContext: unknown }).securityContext = { capabilities: { add: 'NET_RAW' } };
    const Model = await modelOf(broken);
    expect(() => {
      new Model(broken).validate();
    }).toThrow(/capabilities\/add/);
  });
});

describe('container hardening (docs/security.md)', () => {
  it('runs the controller as non-root, read-only, without privilege escalation or capabilities', () => {
    const spec = podSpec(byKind('Deployment', 'controller'));
    expect(spec.securityContext?.runAsNonRoot).toBe(true);
    expect(spec.hostNetwork ?? false).toBe(false);
    for (const c of spec.containers) {
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(c.securityContext?.capabilities?.add ?? []).toEqual([]);
      expect(c.securityContext?.privileged ?? false).toBe(false);
      expect(c.ports?.map((p) => p.containerPort)).toEqual([7472]);
      expect(c.livenessProbe).toBeDefined();
      expect(c.readinessProbe).toBeDefined();
    }
  });

  it('gives the speaker host networking and NET_RAW, nothing more', () => {
    const spec = podSpec(byKind('DaemonSet', 'speaker'));
    expect(spec.hostNetwork).toBe(true);
    for (const c of spec.containers) {
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'], add: ['NET_RAW'] } });
      expect(c.securityContext?.privileged ?? false).toBe(false);
      expect(c.ports?.map((p) => p.containerPort)).toEqual([7473]);
    }
  });

  it('starts the speaker with the Node.js flags the sandbox and the benchmarks use', () => {
    const c = podSpec(byKind('DaemonSet', 'speaker')).containers[0] as { command?: string[]; args?: string[] };
    expect(c.command).toEqual(['node', ...speakerNodeFlags, '/app/bin/ironlb.js']);
    expect(c.args).toEqual(['speaker', '--liveness', 'split']);
  });

  it('uses one service account per component', () => {
    expect(podSpec(byKind('Deployment', 'controller')).serviceAccountName).toBe('controller');
    expect(podSpec(byKind('DaemonSet', 'speaker')).serviceAccountName).toBe('speaker');
  });
});

/** The container port a probe targets, by name or number. */
function probePort(c: Container, probe: Probe | undefined): number | undefined {
  const port = probe?.httpGet?.port;
  return typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort;
}

describe('pod wiring matches the CLIs', () => {
  const workloads = [
    { name: 'controller Deployment', doc: () => byKind('Deployment', 'controller'), command: 'controller', port: 7472 },
    { name: 'speaker DaemonSet', doc: () => byKind('DaemonSet', 'speaker'), command: 'speaker', port: 7473 },
  ];

  it.each(workloads)('$name runs `ironlb $command` with probes on /healthz and /readyz at $port', ({ doc, command, port }) => {
    for (const c of podSpec(doc()).containers) {
      expect(c.args?.[0]).toBe(command);
      expect([c.livenessProbe?.httpGet?.path, c.readinessProbe?.httpGet?.path]).toEqual(['/healthz', '/readyz']);
      expect([probePort(c, c.livenessProbe), probePort(c, c.readinessProbe)]).toEqual([port, port]);
      expect(c.resources?.requests).toMatchObject({ cpu: expect.any(String) as string, memory: expect.any(String) as string });
      expect(c.resources?.limits?.memory).toEqual(expect.any(String));
    }
  });

  it.each(workloads)('$name sets only IRONLB_* variables its CLI reads', async ({ doc, command }) => {
    const help = await runCli([command, '--help']);
    const known = new Set([...help.stdout.matchAll(/\[env (\w+)\]/g)].map((m) => m[1]));
    expect(known.size).toBeGreaterThan(3);
    const set = podSpec(doc()).containers.flatMap((c) => (c.env ?? []).map((e) => e.name));
    expect(set.filter((n) => !known.has(n))).toEqual([]);
  }, sourceCliTimeoutMs);

  it('gives the speaker its node name from spec.nodeName', () => {
    const env = podSpec(byKind('DaemonSet', 'speaker')).containers.flatMap((c) => c.env ?? []);
    expect(env.find((e) => e.name === 'IRONLB_NODE_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('spec.nodeName');
  });

  it('runs a speaker on control-plane nodes too', () => {
    const keys = (podSpec(byKind('DaemonSet', 'speaker')).tolerations ?? []).filter((t) => t.operator === 'Exists').map((t) => t.key);
    expect(keys).toEqual(expect.arrayContaining(['node-role.kubernetes.io/control-plane']));
  });

  it('no controller container overrides the pod to run as root', () => {
    for (const c of podSpec(byKind('Deployment', 'controller')).containers) {
      expect(c.securityContext?.runAsUser ?? 1).not.toBe(0);
      expect(c.securityContext?.runAsNonRoot ?? true).toBe(true);
    }
  });

  it('labels the namespace with the one Pod Security level that admits a hostNetwork speaker', () => {
    // baseline forbids hostNetwork (and restricted forbids it too), so the speaker needs privileged;
    // enforce, audit and warn agree so no level logs noise about ironlb's own pods.
    expect(podSpec(byKind('DaemonSet', 'speaker')).hostNetwork).toBe(true);
    const labels = (byKind('Namespace', 'ironlb-system').metadata as { labels?: Record<string, string> }).labels ?? {};
    for (const mode of ['enforce', 'audit', 'warn']) expect(labels[`pod-security.kubernetes.io/${mode}`], mode).toBe('privileged');
  });
});
