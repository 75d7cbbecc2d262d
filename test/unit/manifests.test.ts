import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { speakerNodeFlags } from '../../src/speaker/runtime.js';
import { repoRoot } from '../helpers/cli.js';

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

const docs = [...load('manifests'), ...load('config').filter((d) => typeof (d.doc as Partial<Doc>).kind === 'string')];
const byKind = (kind: string, name: string): Doc => {
  const found = docs.find((d) => d.doc.kind === kind && d.doc.metadata.name === name)?.doc;
  if (found === undefined) throw new Error(`${kind} ${name} missing from manifests/`);
  return found;
};

interface Container {
  securityContext?: { capabilities?: { add?: string[]; drop?: string[] }; allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; privileged?: boolean; runAsNonRoot?: boolean };
  ports?: { containerPort: number }[];
  livenessProbe?: unknown;
  readinessProbe?: unknown;
}
interface PodSpec {
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

describe('container hardening (issue 8)', () => {
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
    expect(c.args).toEqual(['speaker']);
  });

  it('uses one service account per component', () => {
    expect(podSpec(byKind('Deployment', 'controller')).serviceAccountName).toBe('controller');
    expect(podSpec(byKind('DaemonSet', 'speaker')).serviceAccountName).toBe('speaker');
  });
});
