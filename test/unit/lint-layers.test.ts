import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/*
 * The layering that docs/architecture.md states is enforced by eslint.config.js; this proves the
 * fence holds. Each row lints a one-line fixture as if it were a file at `path`, with only the
 * layering rules on (the type-aware rules need a real file in the project).
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({
  cwd: root,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports' || ruleId === 'no-restricted-globals',
});

async function violations(path: string, code: string): Promise<readonly string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}/${path}` });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('lint fences the layers', () => {
  it.each([
    { name: 'controller/ importing k8s/', path: 'src/controller/fixture.ts', code: "import { createInformer } from '../k8s/informer.js';\n", rule: 'no-restricted-imports' },
    { name: 'controller/ importing client-node', path: 'src/controller/fixture.ts', code: "import * as k8s from '@kubernetes/client-node';\n", rule: 'no-restricted-imports' },
    { name: 'controller/ importing obs/', path: 'src/controller/fixture.ts', code: "import { createRegistry } from '../obs/metrics.js';\n", rule: 'no-restricted-imports' },
    { name: 'controller/ importing speaker/', path: 'src/controller/fixture.ts', code: "import { createSpeaker } from '../speaker/speaker.js';\n", rule: 'no-restricted-imports' },
    { name: 'speaker/ importing sys/', path: 'src/speaker/fixture.ts', code: "import { systemClock } from '../sys/clock.js';\n", rule: 'no-restricted-imports' },
    { name: 'speaker/ importing k8s/', path: 'src/speaker/fixture.ts', code: "import { createSpeakerWatch } from '../k8s/speaker-watch.js';\n", rule: 'no-restricted-imports' },
    { name: 'layer2/ importing sys/', path: 'src/layer2/fixture.ts', code: "import { createAfPacketConns } from '../sys/af-packet.js';\n", rule: 'no-restricted-imports' },
    { name: 'layer2/packet importing the rest of layer2/', path: 'src/layer2/packet/fixture.ts', code: "import { createAnnouncer } from '../announcer.js';\n", rule: 'no-restricted-imports' },
    { name: 'controller decide.ts (pure) importing node:fs', path: 'src/controller/decide.ts', code: "import { readFileSync } from 'node:fs';\n", rule: 'no-restricted-imports' },
    { name: 'controller decide.ts (pure) reading a timer global', path: 'src/controller/decide.ts', code: 'export const t = setTimeout;\n', rule: 'no-restricted-globals' },
    { name: 'speaker desired.ts (pure) importing prom-client', path: 'src/speaker/desired.ts', code: "import { Gauge } from 'prom-client';\n", rule: 'no-restricted-imports' },
    { name: 'speaker lease-view.ts (pure) reading process', path: 'src/speaker/lease-view.ts', code: 'export const env = process.env;\n', rule: 'no-restricted-globals' },
    { name: 'speaker layer2-pools.ts (pure) importing node:os', path: 'src/speaker/layer2-pools.ts', code: "import { networkInterfaces } from 'node:os';\n", rule: 'no-restricted-imports' },
    { name: 'speaker membership.ts (pure) reading the clock global', path: 'src/speaker/membership.ts', code: 'export const t = setInterval;\n', rule: 'no-restricted-globals' },
    { name: 'service/ (pure) importing controller/', path: 'src/service/fixture.ts', code: "import { createController } from '../controller/controller.js';\n", rule: 'no-restricted-imports' },
    { name: 'ipam/ importing service/', path: 'src/ipam/fixture.ts', code: "import { isOurs } from '../service/service.js';\n", rule: 'no-restricted-imports' },
    { name: 'cli/ importing client-node', path: 'src/cli/fixture.ts', code: "import * as k8s from '@kubernetes/client-node';\n", rule: 'no-restricted-imports' },
    { name: 'anything importing cli/', path: 'src/k8s/fixture.ts', code: "import { main } from '../cli/main.js';\n", rule: 'no-restricted-imports' },
  ])('refuses $name', async ({ path, code, rule }) => {
    const found = await violations(path, code);
    expect(found.length, found.join('\n')).toBeGreaterThan(0);
    expect(found.every((v) => v.startsWith(`${rule}:`)), found.join('\n')).toBe(true);
  });

  it.each([
    { name: 'controller/ using service/ and its own ports', path: 'src/controller/fixture.ts', code: "import { isOurs } from '../service/service.js';\nimport type { StatusWriter } from './ports.js';\n" },
    { name: 'k8s/ using client-node', path: 'src/k8s/fixture.ts', code: "import * as k8s from '@kubernetes/client-node';\n" },
    { name: "the sandbox's own API clients using client-node", path: 'src/sandbox/fixture.ts', code: "import * as k8s from '@kubernetes/client-node';\n" },
    { name: 'layer2/packet using shared/', path: 'src/layer2/packet/fixture.ts', code: "import { ok } from '../../shared/result.js';\nimport { arpRequest } from './arp.js';\n" },
    { name: 'the speaker loop using layer2/ types', path: 'src/speaker/fixture.ts', code: "import type { PacketConn } from '../layer2/packet-conn.js';\n" },
  ])('allows $name', async ({ path, code }) => {
    expect(await violations(path, code)).toEqual([]);
  });
});
