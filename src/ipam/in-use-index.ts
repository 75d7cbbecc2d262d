import { formatIp, type IpAddr, type IpFamily } from '../ip/ip-addr.js';
import type { PoolName } from '../shared/brand.js';
import { sharingRefusal, type IpUser } from './sharing.js';
import { allocationError, type AllocationError } from './allocation-error.js';
import type { ServiceRequest } from './service-request.js';

/**
 * An IP in use (it is its own IpAddr, to keep one object per IP; docs/ipam.md "Heap"). All its
 * users share `sharingKey` and `backendKey`.
 */
export class IpUse<U extends IpUser> implements IpAddr {
  constructor(
    readonly family: IpFamily,
    readonly value: bigint,
    public pool: PoolName,
    public sharingKey: string | undefined,
    public backendKey: string,
    /** Its users, in arrival order; never empty while it is in the index. */
    readonly users: U[],
  ) {}

  /** Canonical text, built when asked (docs/ipam.md "Heap"). */
  get text(): string {
    return formatIp(this);
  }
}

/** An IP as a Map key: a number for IPv4, the value itself for IPv6 (docs/ipam.md "Heap"). */
type IpKey = number | bigint;

function ipKey(ip: IpAddr): IpKey {
  return ip.family === 4 ? Number(ip.value) | 0 : ip.value;
}

/**
 * The index of IPs in use: by IP, and by sharing key. It answers "who uses this IP" and "may
 * this request use it too" (the sharing rules, asked here and nowhere else); which IP to pick
 * is the allocator's policy.
 *
 * Invariants (see {@link InUseIndex.verify}): every IP in use has at least one user, no user
 * twice, more than one user only under a sharing key, and the key index lists an IP exactly
 * under its sharing key.
 */
export class InUseIndex<U extends IpUser> {
  /** ipKey(IP) -> its use */
  private readonly byIp = new Map<IpKey, IpUse<U>>();
  /** sharing key -> the IPs in use under it */
  private readonly byKey = new Map<string, Set<IpUse<U>>>();

  get size(): number {
    return this.byIp.size;
  }

  get(ip: IpAddr): IpUse<U> | undefined {
    return this.byIp.get(ipKey(ip));
  }

  values(): IterableIterator<IpUse<U>> {
    return this.byIp.values();
  }

  /** Files a new IP in use under its IP and its sharing key. */
  add(use: IpUse<U>): void {
    this.byIp.set(ipKey(use), use);
    this.rekey(use, use.sharingKey, use.backendKey, true);
  }

  /** Removes an IP that lost its last user. */
  remove(use: IpUse<U>): void {
    this.rekey(use, undefined, use.backendKey);
    this.byIp.delete(ipKey(use));
  }

  /** Sets an IP's sharing key and backend key, keeping the key index in step. */
  rekey(use: IpUse<U>, sharingKey: string | undefined, backend: string, fresh = false): void {
    if (!fresh && use.sharingKey !== undefined) {
      this.byKey.get(use.sharingKey)?.delete(use);
      if (this.byKey.get(use.sharingKey)?.size === 0) this.byKey.delete(use.sharingKey);
    }
    use.sharingKey = sharingKey;
    use.backendKey = backend;
    if (sharingKey === undefined) return;
    const set = this.byKey.get(sharingKey) ?? new Set<IpUse<U>>();
    set.add(use);
    this.byKey.set(sharingKey, set);
  }

  /** The IPs in use under a sharing key. */
  sharedUnder(sharingKey: string): ReadonlySet<IpUse<U>> {
    return this.byKey.get(sharingKey) ?? noUses;
  }

  /** Why `req` may not use `ip` alongside its current users, or undefined when it may (or the IP is free). */
  refusal(ip: IpAddr, req: Pick<ServiceRequest, 'key' | 'sharingKey' | 'ports'>, backend: string): AllocationError | undefined {
    const use = this.get(ip);
    return use === undefined ? undefined : sharingRefusal(use, req, backend);
  }

  /**
   * Why `req`, a user of `use`, may not keep it with its new key, ports and selector, or
   * undefined when it may: with other users, it must keep their sharing key and still share.
   */
  refusalToStay(use: IpUse<U>, req: Pick<ServiceRequest, 'key' | 'sharingKey' | 'ports'>, backend: string): AllocationError | undefined {
    const other = use.users.find((u) => u.request.key !== req.key)?.request.key;
    if (other === undefined) return undefined;
    if (req.sharingKey !== use.sharingKey) return allocationError.sharingKeyChange(use.text, other, use.sharingKey, req.sharingKey);
    return sharingRefusal(use, req, backend);
  }

  /** The index's own invariants, one line per broken one; empty when all hold. */
  verify(): readonly string[] {
    const problems: string[] = [];
    for (const use of this.byIp.values()) {
      if (use.users.length === 0) problems.push(`${use.text} has no user`);
      if (use.users.length > 1 && use.sharingKey === undefined) problems.push(`${use.text} is shared without a key`);
      if (new Set(use.users.map((u) => u.request.key)).size !== use.users.length) problems.push(`${use.text} lists a user twice`);
      const indexed = [...this.byKey].filter(([, set]) => set.has(use)).map(([k]) => k);
      const expected = use.sharingKey === undefined ? [] : [use.sharingKey];
      if (JSON.stringify(indexed) !== JSON.stringify(expected)) problems.push(`${use.text}: sharing index ${JSON.stringify(indexed)}, key ${JSON.stringify(expected)}`);
    }
    return problems;
  }
}

const noUses: ReadonlySet<never> = new Set();
