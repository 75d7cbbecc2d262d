import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../shared/clock.js';

/** The real clock: performance.now() for durations, Date for timestamps. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallTime: () => new Date(),
  sleep: async (ms, signal) => {
    await delay(ms, undefined, signal === undefined ? undefined : { signal });
  },
};
