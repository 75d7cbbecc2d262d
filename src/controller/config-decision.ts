import { keepLastGoodConfig, type ConfigOutcome } from '../config/config-map.js';
import type { Allocator } from '../ipam/allocator.js';
import { err, ok } from '../shared/result.js';

/**
 * Validates a new config text and, when valid, switches the allocator to it unless that would
 * orphan an assigned IP (config/config-map.ts keeps the last good config). A missing ConfigMap
 * counts as a config without pools (which is refused while any IP is assigned).
 */
export function applyConfig(allocator: Allocator, text: string | undefined, inForce: string | undefined): ConfigOutcome {
  return keepLastGoodConfig(text, inForce, {
    whenMissing: 'noPools',
    adopt: (config) => {
      const switched = allocator.setConfig(config);
      return switched.ok ? ok(undefined) : err(switched.error.message);
    },
  });
}
