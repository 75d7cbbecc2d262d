/**
 * The parts of an image's configuration a container runtime applies (OCI image config: Entrypoint,
 * Cmd, User, WorkingDir, Env), read from the last stage of a Dockerfile. The sandbox runs ironlb
 * from this checkout when its image is not built; the Dockerfile is then the only description of
 * that image, so the runtime reads it rather than repeating it. Pure.
 */
export interface ImageConfig {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  /** `USER` as written (`65534:65534`, `nobody`), '' when absent (root). */
  readonly user: string;
  readonly workingDir: string;
  readonly env: Readonly<Record<string, string>>;
}

/** A Dockerfile instruction's arguments in exec (JSON) form, or shell form as `/bin/sh -c ...`. */
function execForm(args: string): string[] {
  if (args.trim().startsWith('[')) {
    const parsed: unknown = JSON.parse(args);
    if (Array.isArray(parsed) && parsed.every((a): a is string => typeof a === 'string')) return parsed;
  }
  return ['/bin/sh', '-c', args.trim()];
}

/** `ENV A=1 B="two"` or the legacy `ENV A 1`. */
function envPairs(args: string): [string, string][] {
  const legacy = /^(\S+)\s+([^=]*)$/.exec(args.trim());
  if (legacy !== null && !(legacy[1] ?? '').includes('=')) return [[legacy[1] ?? '', legacy[2] ?? '']];
  return [...args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g)].map((m) => [m[1] ?? '', (m[2] ?? '').replace(/^"(.*)"$/, '$1')]);
}

/** Joins continuation lines and drops comments. */
function instructions(dockerfile: string): { readonly op: string; readonly args: string }[] {
  const joined = dockerfile.replace(/\\\r?\n/g, ' ');
  return joined
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op = '', ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/** The image config of the Dockerfile's last stage (what `docker build` tags). */
export function imageConfigOf(dockerfile: string): ImageConfig {
  const all = instructions(dockerfile);
  const lastFrom = all.map((i) => i.op).lastIndexOf('FROM');
  let config: { entrypoint: string[]; cmd: string[]; user: string; workingDir: string; env: Record<string, string> } = { entrypoint: [], cmd: [], user: '', workingDir: '/', env: {} };
  for (const { op, args } of all.slice(lastFrom + 1)) {
    if (op === 'ENTRYPOINT') config = { ...config, entrypoint: execForm(args), cmd: [] };
    if (op === 'CMD') config = { ...config, cmd: execForm(args) };
    if (op === 'USER') config = { ...config, user: args.trim() };
    if (op === 'WORKDIR') config = { ...config, workingDir: args.trim() };
    if (op === 'ENV') config = { ...config, env: { ...config.env, ...Object.fromEntries(envPairs(args)) } };
  }
  return config;
}

/**
 * The paths a Dockerfile takes from the build context (the sources of every `COPY` and `ADD`
 * without `--from`), in order of first use, without duplicates; with the Dockerfile itself, they
 * are what an image is built from. Flags (`--chown=...`) are skipped; sources in exec (JSON) form
 * are read as such. Pure.
 */
export function buildContextSources(dockerfile: string): readonly string[] {
  const sources = new Set<string>();
  for (const { op, args } of instructions(dockerfile)) {
    if (op !== 'COPY' && op !== 'ADD') continue;
    const words = args.trim().startsWith('[') ? execForm(args) : args.split(/\s+/).filter((w) => w !== '');
    if (words.some((w) => w.startsWith('--from='))) continue;
    const paths = words.filter((w) => !w.startsWith('--'));
    for (const p of paths.slice(0, -1)) sources.add(p.replace(/^\.\/+/, '').replace(/\/+$/, '') || '.');
  }
  return [...sources];
}
