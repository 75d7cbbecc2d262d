import { describe, expect, it } from 'vitest';
import { backoffDelay, type BackoffPolicy } from '../../src/shared/backoff.js';

const policy: BackoffPolicy = { baseMs: 100, maxMs: 1000, jitter: 0.2 };

describe('backoffDelay', () => {
  it.each([
    { name: 'first retry, no jitter', attempt: 0, random: 0.5, want: 100 },
    { name: 'doubles', attempt: 2, random: 0.5, want: 400 },
    { name: 'capped', attempt: 10, random: 0.5, want: 1000 },
    { name: 'jitter low end', attempt: 1, random: 0, want: 160 },
    { name: 'jitter high end stays under the cap', attempt: 9, random: 0.999, want: 1000 },
    { name: 'huge attempt does not overflow', attempt: 10_000, random: 0.5, want: 1000 },
  ])('$name', ({ attempt, random, want }) => {
    expect(backoffDelay(policy, attempt, random)).toBe(want);
  });
});
