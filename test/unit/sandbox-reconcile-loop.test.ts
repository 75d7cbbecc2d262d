import { describe, expect, it } from 'vitest';
import { createReconcileLoop } from '../../src/sandbox/reconcile-loop.js';

describe('createReconcileLoop', () => {
  it('coalesces pokes during a run into one more run, and reports errors without stopping', async () => {
    let runs = 0;
    let release: () => void = () => undefined;
    const errors: unknown[] = [];
    const loop = createReconcileLoop(async () => {
      runs++;
      if (runs === 1) await new Promise<void>((r) => { release = r; });
      if (runs === 2) throw new Error('boom');
    }, (e) => errors.push(e));
    loop.poke();
    loop.poke();
    loop.poke();
    release();
    await loop.idle();
    expect(runs).toBe(2);
    expect(errors).toHaveLength(1);
    loop.poke();
    await loop.idle();
    expect(runs).toBe(3);
  });
});
