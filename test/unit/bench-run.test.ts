import { describe, expect, it } from 'vitest';
import { markdown, meets, mergeResults, type StoredResult } from '../../bench/run.js';

const machine = { cpu: 'Test CPU', cores: 2, memoryGiB: 4, kernel: 'Linux 6', node: 'v20.0.0' };
const row = (suite: string, name: string, value: number, date: string, target?: string): StoredResult => ({
  suite,
  name,
  value,
  unit: 'us',
  ...(target === undefined ? {} : { target }),
  date,
  machine,
  command: `npm run bench -- --only ${suite}`,
});

describe('bench harness', () => {
  it.each([
    { name: 'below', value: 3, target: '< 20', want: true },
    { name: 'above', value: 30, target: '< 20', want: false },
    { name: 'equal to a <= limit', value: 2, target: '<= 2', want: true },
    { name: 'equal to a < limit', value: 2, target: '< 2', want: false },
    { name: 'at least', value: 5, target: '>= 5', want: true },
    { name: 'no target', value: 5, target: undefined, want: undefined },
    { name: 'a target in words', value: 5, target: 'within 2x', want: undefined },
  ])('meets: $name', ({ value, target, want }) => {
    expect(meets(value, target)).toBe(want);
  });

  it('a partial run replaces its rows and keeps every other suite', () => {
    const old = [row('allocator', 'allocator.a', 1, 'd1'), row('allocator', 'allocator.b', 2, 'd1'), row('speaker', 'speaker.x', 9, 'd0')];
    const fresh = [row('allocator', 'allocator.a', 1.5, 'd2')];
    expect(mergeResults(old, fresh).map((r) => [r.name, r.value, r.date])).toEqual([
      ['allocator.b', 2, 'd1'],
      ['allocator.a', 1.5, 'd2'],
      ['speaker.x', 9, 'd0'],
    ]);
  });

  it('renders one table per suite with value, unit, target and the run that measured it', () => {
    const md = markdown([row('allocator', 'allocator.alloc_us.v4_24', 0.5, '2026-01-01T00:00:00Z', '< 20'), row('zeta', 'zeta.slow', 50, '2026-01-02T00:00:00Z', '< 20')]);
    expect(md).toContain('## allocator\n');
    expect(md).toContain('| `allocator.alloc_us.v4_24` | 0.5 | us | < 20 | yes |');
    expect(md).toContain('| `zeta.slow` | 50 | us | < 20 | **no** |');
    expect(md).toContain('Measured 2026-01-01T00:00:00Z on Test CPU, 2 cores, 4 GiB, Linux 6, Node.js v20.0.0, with `npm run bench -- --only allocator`.');
    // Registered suites come first, then the others by name.
    expect(md.indexOf('## allocator')).toBeLessThan(md.indexOf('## zeta'));
  });
});
