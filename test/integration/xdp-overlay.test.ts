import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../helpers/cli.js';

interface Container {
  name: string;
  env?: { name: string; value?: string }[];
  securityContext?: { capabilities?: { add?: string[]; drop?: string[] } };
}
interface Doc {
  kind: string;
  metadata: { name: string };
  spec?: { template?: { spec?: { containers?: Container[]; securityContext?: { seccompProfile?: { type: string } } } } };
}

function speakerOf(yamlText: string): Container {
  const docs = parseAllDocuments(yamlText).map((d) => d.toJS() as Doc);
  const speaker = docs.find((d) => d.kind === 'DaemonSet' && d.metadata.name === 'speaker')?.spec?.template?.spec?.containers?.[0];
  if (speaker === undefined) throw new Error('no speaker DaemonSet container');
  return speaker;
}

// The real kubectl's built-in kustomize renders the overlay (TOOLCHAIN.md: kubectl v1.32).
describe('overlays/xdp', () => {
  it('adds exactly CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON to the speaker and turns on --layer2-mode xdp', () => {
    const rendered = execFileSync('kubectl', ['kustomize', join(repoRoot, 'overlays', 'xdp')], { encoding: 'utf8' });
    const speaker = speakerOf(rendered);
    expect(speaker.securityContext?.capabilities).toEqual({ drop: ['ALL'], add: ['NET_RAW', 'BPF', 'NET_ADMIN', 'PERFMON'] });
    expect(speaker.env?.filter((e) => e.name === 'IRONLB_LAYER2_MODE')).toEqual([{ name: 'IRONLB_LAYER2_MODE', value: 'xdp' }]);
  });

  it('runs the speaker Unconfined (RuntimeDefault seccomp allows bpf(2) only with CAP_SYS_ADMIN), the controller still RuntimeDefault', () => {
    const rendered = execFileSync('kubectl', ['kustomize', join(repoRoot, 'overlays', 'xdp')], { encoding: 'utf8' });
    const docs = parseAllDocuments(rendered).map((d) => d.toJS() as Doc);
    const podOf = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name)?.spec?.template?.spec?.securityContext;
    expect(podOf('DaemonSet', 'speaker')?.seccompProfile).toEqual({ type: 'Unconfined' });
    expect(podOf('Deployment', 'controller')?.seccompProfile).toEqual({ type: 'RuntimeDefault' });
  });
});
