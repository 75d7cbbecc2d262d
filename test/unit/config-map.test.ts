import { describe, expect, it } from 'vitest';
import { configText, keepLastGoodConfig } from '../../src/config/config-map.js';
import { err, ok } from '../../src/shared/result.js';

const good = 'address-pools:\n- {name: p, protocol: layer2, addresses: [10.0.0.0/30]}\n';
const other = 'address-pools:\n- {name: q, protocol: layer2, addresses: [10.1.0.0/30]}\n';
const bad = 'address-pools:\n- {name: p, protocol: bgp, addresses: [10.0.0.0/30]}\n';

describe('keepLastGoodConfig: the one rule both processes keep their config by', () => {
  it.each([
    { name: 'first valid config loads', text: good, inForce: undefined, whenMissing: 'keep' as const, want: 'loaded' },
    { name: 'same text as in force: unchanged', text: good, inForce: good, whenMissing: 'keep' as const, want: 'unchanged' },
    { name: 'a new valid config loads', text: other, inForce: good, whenMissing: 'keep' as const, want: 'loaded' },
    { name: 'an invalid config is not loaded', text: bad, inForce: good, whenMissing: 'keep' as const, want: 'invalid' },
    { name: 'speaker: a missing config keeps the last good one', text: undefined, inForce: good, whenMissing: 'keep' as const, want: 'missing' },
    { name: 'controller: a missing config is a config without pools', text: undefined, inForce: good, whenMissing: 'noPools' as const, want: 'loaded' },
  ])('$name', ({ text, inForce, whenMissing, want }) => {
    expect(keepLastGoodConfig(text, inForce, { whenMissing }).kind).toBe(want);
  });

  it('names the field of an invalid config', () => {
    const out = keepLastGoodConfig(bad, good, { whenMissing: 'keep' });
    expect(out.kind === 'invalid' ? out.issues.join('\n') : '').toMatch(/address-pools\[0\] "p": protocol/);
  });

  it('refuses what adopt refuses, and adopts what it accepts', () => {
    expect(keepLastGoodConfig(other, good, { whenMissing: 'keep', adopt: () => err('it would orphan 10.0.0.1') })).toEqual({
      kind: 'refused',
      message: 'config refused, the previous one stays in force: it would orphan 10.0.0.1',
    });
    expect(keepLastGoodConfig(other, good, { whenMissing: 'keep', adopt: () => ok(undefined) }).kind).toBe('loaded');
  });

  it('reads the config key of a ConfigMap', () => {
    expect(configText({ data: { config: good } })).toBe(good);
    expect(configText({ data: {} })).toBeUndefined();
    expect(configText(undefined)).toBeUndefined();
  });
});
