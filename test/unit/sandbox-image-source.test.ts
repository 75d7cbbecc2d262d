import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildContextSources } from '../../src/sandbox/kubelet/image-config.js';
import { checkoutSource, sourceDigest } from '../../src/sandbox/kubelet/image-source.js';
import { repoRoot } from '../helpers/cli.js';

describe('the paths a Dockerfile takes from the build context', () => {
  it.each([
    { name: 'this repository\'s Dockerfile', dockerfile: readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'), want: ['package.json', 'package-lock.json', 'scripts', 'native', 'tsconfig.json', 'tsconfig.build.json', 'src', 'bin'] },
    { name: 'flags, ./ prefixes and trailing slashes', dockerfile: 'FROM x\nCOPY --chown=1:1 ./a/ b ./dst/\nADD c.tar /\n', want: ['a', 'b', 'c.tar'] },
    { name: 'exec form, continuation lines, duplicates', dockerfile: 'FROM x\nCOPY ["a b", "c", "/d/"]\nCOPY c \\\n  /e\n', want: ['a b', 'c'] },
    { name: 'other stages (--from) are not the context', dockerfile: 'FROM x AS b\nFROM y\nCOPY --from=b /src/dist ./dist\n', want: [] },
  ])('$name', ({ dockerfile, want }) => {
    expect(buildContextSources(dockerfile)).toEqual(want);
  });
});

describe('the digest of build inputs', () => {
  const a = { path: 'src/a.ts', sha256: '1'.repeat(64) };
  const b = { path: 'src/b.ts', sha256: '2'.repeat(64) };
  it('depends on names and contents, not on order', () => {
    expect(sourceDigest([a, b])).toBe(sourceDigest([b, a]));
    expect(sourceDigest([a, b])).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(sourceDigest([a, { ...b, sha256: '3'.repeat(64) }])).not.toBe(sourceDigest([a, b]));
    expect(sourceDigest([a, { ...b, path: 'src/c.ts' }])).not.toBe(sourceDigest([a, b]));
    expect(sourceDigest([a])).not.toBe(sourceDigest([a, b]));
  });
});

// A real git working tree: what changes the digest is what changes the image.
describe('the digest of a checkout', () => {
  let dir = '';
  const git = (...args: string[]): string => execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { encoding: 'utf8' });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ironlb-source-'));
    await writeFile(join(dir, 'Dockerfile'), 'FROM x\nCOPY package.json ./\nCOPY src ./src\n');
    await writeFile(join(dir, 'package.json'), '{}\n');
    await writeFile(join(dir, '.gitignore'), 'src/generated/\n');
    await mkdir(join(dir, 'src', 'generated'), { recursive: true });
    await writeFile(join(dir, 'src', 'a.ts'), 'export const a = 1;\n');
    await writeFile(join(dir, 'README.md'), 'not an input\n');
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'init');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const digest = async (): Promise<string> => {
    const r = await checkoutSource(dir);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };

  it.each([
    { name: 'an uncommitted edit of a source', change: () => writeFile(join(dir, 'src', 'a.ts'), 'export const a = 2;\n'), changes: true },
    { name: 'a new untracked source file', change: () => writeFile(join(dir, 'src', 'b.ts'), 'export const b = 1;\n'), changes: true },
    { name: 'the Dockerfile', change: () => writeFile(join(dir, 'Dockerfile'), 'FROM y\nCOPY package.json ./\nCOPY src ./src\n'), changes: true },
    { name: 'a deleted source', change: () => rm(join(dir, 'src', 'a.ts')), changes: true },
    { name: 'a file outside the build inputs', change: () => writeFile(join(dir, 'README.md'), 'edited\n'), changes: false },
    { name: 'a git-ignored build output', change: () => writeFile(join(dir, 'src', 'generated', 'x.json'), '{}\n'), changes: false },
    { name: 'a commit of the same content', change: () => Promise.resolve(git('commit', '-q', '--allow-empty', '-m', 'empty')), changes: false },
  ])('$name: changes the digest: $changes', async ({ change, changes }) => {
    const before = await digest();
    await change();
    expect((await digest()) !== before).toBe(changes);
  });

  it('outside a git working tree, says why', async () => {
    await rm(join(dir, '.git'), { recursive: true, force: true });
    const r = await checkoutSource(dir);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/is not a git working tree/);
  });

  it('this checkout has one', async () => {
    const r = await checkoutSource(repoRoot);
    expect(r.ok && r.value).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
