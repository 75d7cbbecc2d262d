import type { Result } from '../shared/result.js';
import { poolAddressCount } from './config-summary.js';
import { parseConfigYaml } from './config-yaml.js';
import { formatIssue, type Config } from './config.js';

/** The key of the ConfigMap that holds the config (MetalLB v0.12: `config`). */
export const configKey = 'config';

/** The config ConfigMap as ironlb reads it. client-node's V1ConfigMap fits it. */
export interface ConfigMapView {
  readonly metadata?: { readonly name?: string | undefined; readonly namespace?: string | undefined; readonly uid?: string | undefined } | undefined;
  readonly data?: Readonly<Record<string, string>> | undefined;
}

/** The config text of a ConfigMap, or undefined when it (or the key) is missing. */
export function configText(cm: ConfigMapView | undefined): string | undefined {
  return cm?.data?.[configKey];
}

/**
 * What a ConfigMap change did:
 * - `loaded`: the new config is in force;
 * - `unchanged`: same text as the config in force;
 * - `missing`: no ConfigMap or no key; the last good config stays;
 * - `invalid`: it does not parse or validate (`issues`, with paths); the last good config stays;
 * - `refused`: valid, but `adopt` refused it (it would orphan assigned IPs); the last good config stays.
 */
export type ConfigOutcome =
  | { readonly kind: 'loaded'; readonly config: Config; readonly message: string }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'missing' }
  | { readonly kind: 'invalid'; readonly issues: readonly string[]; readonly message: string }
  | { readonly kind: 'refused'; readonly message: string };

/** How a process keeps its last good config. */
export interface KeepLastGoodOptions {
  /**
   * What a missing ConfigMap (or key) means once a config is in force: `keep` the last good
   * one (the speaker), or a config without pools (the controller, where `adopt` then refuses it
   * while any IP is assigned).
   */
  readonly whenMissing: 'keep' | 'noPools';
  /** Puts a valid config in force, or says why not (the controller's allocator refuses orphaning configs). */
  readonly adopt?: (config: Config) => Result<void, string>;
}

/**
 * "Keep the last good config", the rule both processes follow (DESIGN.md "Allocation rules",
 * MetalLB v0.12): a new config text goes into force only when it parses, validates and is
 * adopted; otherwise the one in force (`inForce` is its text) stays, and the outcome says why.
 */
export function keepLastGoodConfig(text: string | undefined, inForce: string | undefined, options: KeepLastGoodOptions): ConfigOutcome {
  if (text !== undefined && text === inForce) return { kind: 'unchanged' };
  if (text === undefined && options.whenMissing === 'keep') return { kind: 'missing' };
  const parsed = parseConfigYaml(text ?? 'address-pools: []\n');
  if (!parsed.ok) {
    const issues = parsed.error.map(formatIssue);
    return { kind: 'invalid', issues, message: `invalid config: ${issues.join('; ')}` };
  }
  const adopted = options.adopt?.(parsed.value);
  if (adopted?.ok === false) return { kind: 'refused', message: `config refused, the previous one stays in force: ${adopted.error}` };
  return { kind: 'loaded', config: parsed.value, message: loadedMessage(parsed.value) };
}

function loadedMessage(config: Config): string {
  const pools = config.pools.map((p) => `${p.name} (${poolAddressCount(p).toString()} addresses)`);
  return pools.length === 0 ? 'config loaded: no pools' : `config loaded: pools ${pools.join(', ')}`;
}
