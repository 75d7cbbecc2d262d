/** Nominal typing for strings that must not be mixed up (service keys, node names, pool names). */
export type Brand<T, B extends string> = T & { readonly __brand: B };

/** `namespace/name` of a Service. */
export type ServiceKey = Brand<string, 'ServiceKey'>;
/** A Kubernetes Node name. */
export type NodeName = Brand<string, 'NodeName'>;
/** An address-pool name from the config. */
export type PoolName = Brand<string, 'PoolName'>;

/** Builds the key of a namespaced object. */
export function serviceKey(namespace: string, name: string): ServiceKey {
  return `${namespace}/${name}` as ServiceKey;
}
