import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * A fresh prom-client Registry for one process (never the global default registry), with
 * Node's process metrics under the `ironlb_` prefix.
 */
export function createRegistry(options: { defaultMetrics: boolean } = { defaultMetrics: true }): Registry {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'ironlb_' });
  return registry;
}
