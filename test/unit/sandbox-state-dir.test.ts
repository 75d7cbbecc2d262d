import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordWriter, writeJsonFile } from '../../src/sandbox/state-dir.js';
import { servesStateDir } from '../../src/sandbox/teardown.js';

// `sandbox status` and `down` read the supervisor's record while the supervisor rewrites it (each
// child start saves a pid). A torn file made them report "no sandbox running" and leave the whole
// sandbox behind (CI, 2026-11-23).
describe('sandbox state files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ironlb-state-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Alternately long and short values, so a write over a longer file would leave its tail. */
  const value = (i: number) => ({ i, pad: 'x'.repeat(i % 2 === 0 ? 4000 : 10) });

  /** Reads `path` until `done`, returning what was read that is not valid JSON. */
  async function tornReads(path: string, done: () => boolean): Promise<string[]> {
    const torn: string[] = [];
    while (!done()) {
      const text = await readFile(path, 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      try {
        JSON.parse(text);
      } catch {
        torn.push(text.slice(0, 40));
      }
    }
    return torn;
  }

  it('concurrent writeJsonFile calls never leave a torn file for a reader', async () => {
    const path = join(dir, 'sandbox.json');
    await writeJsonFile(path, value(0));
    let finished = false;
    const reader = tornReads(path, () => finished);
    await Promise.all(Array.from({ length: 300 }, (_, i) => writeJsonFile(path, value(i + 1))));
    finished = true;
    expect(await reader).toEqual([]);
    // Unordered calls may finish in any order (hence recordWriter), but the file is always whole.
    expect((JSON.parse(await readFile(path, 'utf8')) as { i: number }).i).toBeGreaterThan(0);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a record writer ends with the last value saved, whatever order the writes finish in', async () => {
    const path = join(dir, 'sandbox.json');
    const save = recordWriter(path);
    const record = { children: {} as Record<string, number>, pad: '' };
    const saves: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      record.children = { ...record.children, [`child-${String(i)}`]: i };
      record.pad = value(i).pad;
      saves.push(save(record));
    }
    await Promise.all(saves);
    const onDisk = JSON.parse(await readFile(path, 'utf8')) as typeof record;
    expect(Object.keys(onDisk.children)).toHaveLength(200);
    expect(onDisk.children['child-199']).toBe(199);
  });

  it('a record writer starts a write only when the one before has finished', async () => {
    // A write that finishes when the test says so: the first is held back while the second waits.
    const started: number[] = [];
    const finish: (() => void)[] = [];
    const write = (_path: string, value: unknown) => {
      started.push((value as { n: number }).n);
      return new Promise<void>((resolve) => finish.push(resolve));
    };
    const save = recordWriter('unused', write);
    const record = { n: 1 };
    const first = save(record);
    record.n = 2;
    const second = save(record);
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toEqual([1]);
    finish[0]?.();
    await first;
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toEqual([1, 2]);
    finish[1]?.();
    await second;
  });

  it('a failed save rejects its own promise and does not stop later saves', async () => {
    const path = join(dir, 'later', 'sandbox.json');
    const save = recordWriter(path);
    await expect(save({ a: 1 })).rejects.toThrow(/ENOENT/);
    await mkdir(join(dir, 'later'));
    await save({ a: 2 });
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ a: 2 });
  });
});

// `down` without a record (deleted by hand) finds the supervisor by its command line.
describe('servesStateDir', () => {
  const dir = '/run/ironlb-sandbox';
  const node = ['/usr/bin/node', '/opt/ironlb/bin/ironlb.js'];
  it.each([
    { name: 'the supervisor of the dir', args: [...node, 'sandbox', 'serve', '--state-dir', dir, '--nodes', '3'], want: true },
    { name: 'the supervisor of another dir', args: [...node, 'sandbox', 'serve', '--state-dir', `${dir}-2`], want: false },
    { name: 'the supervisor of a dir the given one contains', args: [...node, 'sandbox', 'serve', '--state-dir', `${dir}/x`], want: false },
    { name: 'down itself', args: [...node, 'sandbox', 'down', '--state-dir', dir], want: false },
    { name: 'a child naming the dir', args: [...node, 'controller', '--kubeconfig', `${dir}/controller.kubeconfig`], want: false },
    { name: 'another program', args: ['/usr/bin/python3', 'sandbox', 'serve', '--state-dir', dir], want: false },
    { name: 'serve without the word sandbox before it', args: [...node, 'serve', '--state-dir', dir], want: false },
    { name: 'an empty command line (a kernel thread)', args: [''], want: false },
    { name: 'the npm bin link', args: ['node', '/repo/node_modules/.bin/ironlb', 'sandbox', 'serve', '--state-dir', dir], want: true },
  ])('$name: $want', ({ args, want }) => {
    expect(servesStateDir(args, dir)).toBe(want);
  });
});
