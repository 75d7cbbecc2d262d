import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { err, ok, type Result } from '../../shared/result.js';
import { buildContextSources } from './image-config.js';

/**
 * What ironlb's image was built from, so that the sandbox never runs an image older than the
 * checkout: scripts/build-image.sh labels the image with {@link sourceLabel} = the digest of the
 * checkout's build inputs, and the sandbox kubelet compares that label with the same digest of
 * the checkout it runs from (podman-runtime.ts, `chooseIronlbRuntime`).
 *
 * The build inputs are the files the Dockerfile takes from the build context (its `COPY`/`ADD`
 * sources, see `buildContextSources`) and the Dockerfile itself, as git sees the working tree:
 * tracked and untracked files, less what .gitignore names (build outputs such as dist/,
 * native/build/ and generated code, which the build makes again). Contents are read from the
 * working tree, so an uncommitted edit changes the digest as it changes the image.
 */

/** The image label holding the digest of the build inputs (`sha256:<hex>`). */
export const sourceLabel = 'io.ironlb.source';

/** One build input: its path relative to the checkout and the sha256 (hex) of its contents. */
export interface SourceFile {
  readonly path: string;
  readonly sha256: string;
}

/**
 * The digest of a set of build inputs: sha256 over `path NUL sha256 LF` lines sorted by path
 * (byte order), so it depends on names and contents, not on the order they were read in. Pure.
 */
export function sourceDigest(files: readonly SourceFile[]): string {
  const lines = files.map((f) => `${f.path}\0${f.sha256}\n`).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const hash = createHash('sha256');
  for (const line of lines) hash.update(line);
  return `sha256:${hash.digest('hex')}`;
}

const run = promisify(execFile);

/**
 * The digest of the checkout's build inputs (see the module comment), or why it cannot be had
 * (no Dockerfile, not a git working tree, git missing). Files git lists but the working tree
 * lacks (deleted, not yet committed) are not inputs.
 */
export async function checkoutSource(checkout: string): Promise<Result<string, string>> {
  let dockerfile: string;
  try {
    dockerfile = await readFile(join(checkout, 'Dockerfile'), 'utf8');
  } catch (e: unknown) {
    return err(`cannot read ${join(checkout, 'Dockerfile')}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let listed: string;
  try {
    const paths = ['Dockerfile', ...buildContextSources(dockerfile)];
    listed = (await run('git', ['-C', checkout, 'ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', ...paths], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 })).stdout;
  } catch (e: unknown) {
    const why = e instanceof Error ? e.message.split('\n')[0] ?? e.message : String(e);
    return err(`${checkout} is not a git working tree git can list (${why})`);
  }
  const files: SourceFile[] = [];
  for (const path of new Set(listed.split('\0').filter((p) => p !== ''))) {
    const content = await readFile(join(checkout, path)).catch(() => undefined);
    if (content !== undefined) files.push({ path, sha256: createHash('sha256').update(content).digest('hex') });
  }
  return ok(sourceDigest(files));
}
