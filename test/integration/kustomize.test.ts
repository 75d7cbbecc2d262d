import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../helpers/cli.js';

const run = promisify(execFile);
const manifests = join(repoRoot, 'manifests');

interface Obj {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly subjects?: readonly { readonly namespace?: string }[];
  readonly spec?: { readonly template?: { readonly spec?: { readonly containers?: readonly { readonly image?: string }[] } } };
}

function objects(text: string): readonly Obj[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
}

const images = (list: readonly Obj[]): readonly string[] => list.flatMap((o) => o.spec?.template?.spec?.containers?.map((c) => c.image ?? '') ?? []);

// The machine's kubectl (v1.32, kustomize v5.5) renders offline: no API server involved.
async function kustomize(dir: string): Promise<readonly Obj[]> {
  const { stdout } = await run('kubectl', ['kustomize', dir], { timeout: 30_000 });
  return objects(stdout);
}

describe('manifests/kustomization.yaml (kubectl kustomize, offline)', () => {
  let overlay = '';
  beforeAll(async () => {
    overlay = await mkdtemp(join(tmpdir(), 'ironlb-overlay-'));
    // What a user writes: this folder as a base, their namespace and their registry.
    await writeFile(
      join(overlay, 'kustomization.yaml'),
      `resources: [${relative(overlay, manifests)}]\nnamespace: lb-system\nimages:\n  - { name: ironlb/ironlb, newName: registry.example.com/ironlb, newTag: "1.2.3" }\n`,
    );
  });
  afterAll(async () => {
    await rm(overlay, { recursive: true, force: true });
  });

  it('renders exactly the objects of manifests/ironlb.yaml', async () => {
    const plain = objects(await readFile(join(manifests, 'ironlb.yaml'), 'utf8'));
    const rendered = await kustomize(manifests);
    const key = (o: Obj): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    expect(rendered.map(key).sort()).toEqual(plain.map(key).sort());
    expect(images(rendered)).toEqual(['ironlb/ironlb:0.1.0', 'ironlb/ironlb:0.1.0']);
  });

  it('an overlay sets the namespace everywhere (the Namespace, objects, RBAC subjects) and the image', async () => {
    const rendered = await kustomize(overlay);
    expect(rendered.find((o) => o.kind === 'Namespace')?.metadata.name).toBe('lb-system');
    const namespaced = rendered.filter((o) => !['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind));
    expect(namespaced.map((o) => o.metadata.namespace)).toEqual(namespaced.map(() => 'lb-system'));
    expect(rendered.flatMap((o) => o.subjects ?? []).map((s) => s.namespace)).toEqual(expect.arrayContaining(['lb-system']));
    expect(rendered.flatMap((o) => o.subjects ?? []).filter((s) => s.namespace === 'ironlb-system')).toEqual([]);
    expect(images(rendered)).toEqual(['registry.example.com/ironlb:1.2.3', 'registry.example.com/ironlb:1.2.3']);
    expect(JSON.stringify(rendered)).not.toContain('ironlb-system');
  });
});
