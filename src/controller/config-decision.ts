import { parseConfigYaml } from '../config/config-yaml.js';
import { formatIssue, type Config } from '../config/config.js';
import { poolAddressCount } from '../config/config-summary.js';
import type { Allocator } from '../ipam/allocator.js';
import type { ConfigMapView } from './views.js';

/** The key of the ConfigMap that holds the config (MetalLB v0.12: `config`). */
export const configKey = 'config';

/**
 * What a ConfigMap change did:
 * - `loaded`: the new config is in force (reallocate every Service that waits);
 * - `unchanged`: same text as the config in force;
 * - `invalid`: it does not parse or validate; the last good config stays;
 * - `refused`: valid, but it would orphan assigned IPs; the last good config stays.
 */
export type ConfigOutcome =
  | { readonly kind: 'loaded'; readonly config: Config; readonly message: string }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'invalid'; readonly message: string }
  | { readonly kind: 'refused'; readonly message: string };

/** The config text of a ConfigMap, or undefined when it (or the key) is missing. */
export function configText(cm: ConfigMapView | undefined): string | undefined {
  return cm?.data?.[configKey];
}

/**
 * Validates a new config text and, when valid, switches the allocator to it unless that would
 * orphan an assigned IP. A missing ConfigMap counts as a config without pools (which is refused
 * while any IP is assigned).
 */
export function applyConfig(allocator: Allocator, text: string | undefined, inForce: string | undefined): ConfigOutcome {
  if (text !== undefined && text === inForce) return { kind: 'unchanged' };
  const parsed = text === undefined ? parseConfigYaml('address-pools: []\n') : parseConfigYaml(text);
  if (!parsed.ok) return { kind: 'invalid', message: `invalid config: ${parsed.error.map(formatIssue).join('; ')}` };
  const switched = allocator.setConfig(parsed.value);
  if (!switched.ok) return { kind: 'refused', message: `config refused, the previous one stays in force: ${switched.error.message}` };
  const pools = parsed.value.pools.map((p) => `${p.name} (${poolAddressCount(p).toString()} addresses)`);
  return { kind: 'loaded', config: parsed.value, message: pools.length === 0 ? 'config loaded: no pools' : `config loaded: pools ${pools.join(', ')}` };
}
