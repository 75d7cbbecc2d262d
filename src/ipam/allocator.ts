import type { Config, Pool } from '../config/config.js';
import { compareIp, formatIp, type IpAddr, type IpFamily } from '../ip/ip-addr.js';
import type { IpRange } from '../ip/ip-range.js';
import type { PoolName, ServiceKey } from '../shared/brand.js';
import { err, ok, type Result } from '../shared/result.js';
import { AddressSpace } from './address-space.js';
import { allocationError, noDualStackPool, type AllocationError } from './allocation-error.js';
import { familyPlan, type FamilyPlan } from './family-plan.js';
import { InUseIndex, IpUse } from './in-use-index.js';
import { backendKey } from './sharing.js';
import type { ServiceRequest } from './service-request.js';

/** One IP held by a Service, and the pool it came from. */
export interface AssignedIp {
  readonly ip: IpAddr;
  /** Canonical text (what goes into `status.loadBalancer.ingress[].ip`). */
  readonly text: string;
  readonly pool: PoolName;
}

/** A Service's IPs, primary family first. */
export interface Assignment {
  readonly ips: readonly AssignedIp[];
}

/** What {@link Allocator.assign} did: the assignment, and whether its IPs changed. */
export interface AssignOutcome {
  readonly assignment: Assignment;
  /** True when the set of IPs differs from before the call (emit `IPAllocated` only then). */
  readonly changed: boolean;
}

/** A Service and the IPs its status already shows, for {@link Allocator.restore}. */
export interface RestoreEntry {
  readonly request: ServiceRequest;
  readonly ips: readonly IpAddr[];
}

/** What restore did with one Service. */
export interface RestoreOutcome {
  readonly key: ServiceKey;
  /** The IPs it keeps. */
  readonly restored: readonly AssignedIp[];
  /** The IPs it lost, each with why (an older Service holds it, or no pool has it). */
  readonly rejected: readonly { readonly ip: IpAddr; readonly error: AllocationError }[];
}

/** A Service whose IP a new config would orphan. */
export interface ConfigBlocker {
  readonly key: ServiceKey;
  readonly ip: string;
  readonly reason: string;
}

/** A refused config change; the old config stays in force. */
export interface ConfigChangeError {
  readonly kind: 'orphanedIps';
  readonly blockers: readonly ConfigBlocker[];
  readonly message: string;
}

/** Addresses of one pool, for metrics. `total` is a bigint: a /64 does not fit a double exactly. */
export interface PoolStats {
  readonly pool: PoolName;
  readonly inUse: number;
  readonly total: bigint;
  readonly families: readonly { readonly family: IpFamily; readonly inUse: number; readonly total: bigint }[];
}

/** A Service's request and the IPs it holds (primary family first). */
interface Holding {
  request: ServiceRequest;
  ips: Use[];
}

/** An IP in use by Services (their holdings). */
type Use = IpUse<Holding>;

/** A pool with one address space per family it has. */
interface PoolSpaces {
  readonly pool: Pool;
  readonly spaces: ReadonlyMap<IpFamily, AddressSpace>;
}

/** An IP chosen in a pool, not yet attached (an IP in use is one: it names its pool). */
interface Pick extends IpAddr {
  readonly pool: PoolName;
  /** Known free (the pool's lowest free address): attach skips the in-use lookup. */
  readonly free?: true;
}

const maxBlockersInMessage = 5;
const noHints: readonly Pick[] = [];

function buildSpaces(config: Config): Map<PoolName, PoolSpaces> {
  const out = new Map<PoolName, PoolSpaces>();
  for (const pool of config.pools) {
    const byFamily = new Map<IpFamily, IpRange[]>();
    for (const entry of pool.addresses) {
      const list = byFamily.get(entry.range.family) ?? [];
      list.push(entry.range);
      byFamily.set(entry.range.family, list);
    }
    const spaces = new Map<IpFamily, AddressSpace>();
    for (const [family, ranges] of byFamily) spaces.set(family, new AddressSpace(family, ranges, pool.avoidBuggyIPs));
    out.set(pool.name, { pool, spaces });
  }
  return out;
}

/** The pool whose ranges cover `ip` (pools never overlap), and its space. */
function poolCovering(pools: ReadonlyMap<PoolName, PoolSpaces>, ip: IpAddr): { pool: Pool; space: AddressSpace } | undefined {
  for (const { pool, spaces } of pools.values()) {
    const space = spaces.get(ip.family);
    if (space?.covers(ip.value) === true) return { pool, space };
  }
  return undefined;
}

/** Why `ip` cannot be held under `pools`, or undefined when it can. */
function unusableReason(pools: ReadonlyMap<PoolName, PoolSpaces>, ip: IpAddr): AllocationError | undefined {
  const found = poolCovering(pools, ip);
  if (found === undefined) return allocationError.notInAnyPool(formatIp(ip));
  if (!found.space.usable(ip.value)) return allocationError.buggy(formatIp(ip), found.pool.name);
  return undefined;
}

function autoAssignPools(config: Config): readonly PoolName[] {
  return config.pools.filter((p) => p.autoAssign).map((p) => p.name);
}

function sameIpSet(a: readonly IpAddr[], b: readonly IpAddr[]): boolean {
  return a.length === b.length && a.every((x) => b.some((y) => compareIp(x, y) === 0));
}

function toAssigned(use: Use): AssignedIp {
  return { ip: { family: use.family, value: use.value }, text: use.text, pool: use.pool };
}

function toAssignment(holding: Holding): Assignment {
  return { ips: holding.ips.map(toAssigned) };
}

function removeUser(use: Use, holding: Holding): void {
  const i = use.users.indexOf(holding);
  if (i >= 0) use.users.splice(i, 1);
}

/**
 * The IP allocator: a synchronous, pure state machine over {@link ServiceRequest}s. It knows
 * the pools of the current config, which IPs are in use and by whom, and enforces the rules
 * of DESIGN.md "Allocation rules": requested IPs and pools, auto-assign, avoid-buggy-ips,
 * dual stack, sharing keys, older-wins on restore, no orphaning config change.
 *
 * Expected refusals are Results with an Event-worthy message; a thrown error is a bug.
 * No call costs more with a bigger pool: free addresses are interval sets.
 */
export class Allocator {
  private config: Config;
  private pools: Map<PoolName, PoolSpaces>;
  /** The auto-assign pools of `config`, in order. */
  private autoPools: readonly PoolName[];
  /** The IPs in use; an IP is here exactly when its space marks it taken */
  private readonly inUse = new InUseIndex<Holding>();
  /** service -> its holding; every IP in use of a holding lists the service among its users */
  private readonly holdings = new Map<ServiceKey, Holding>();
  /**
   * ip text -> address quarantined (another host on the LAN uses it): never picked for a
   * Service that did not ask for it, and taken out of its pool's free space while no Service
   * holds it. A Service that holds one without having asked for it is moved on its next assign.
   */
  private readonly blocked = new Map<string, IpAddr>();

  /** Starts with `config` and nothing assigned. */
  constructor(config: Config) {
    this.config = config;
    this.pools = buildSpaces(config);
    this.autoPools = autoAssignPools(config);
  }

  /** The config in force. */
  get currentConfig(): Config {
    return this.config;
  }

  /**
   * Gives `req` its IPs, or keeps the ones it has when they still fit the request (updating
   * ports, sharing key and selector). On refusal nothing changes: a Service keeps its IPs.
   * Idempotent: call it on every reconcile of a LoadBalancer Service.
   */
  assign(req: ServiceRequest): Result<AssignOutcome, AllocationError> {
    const plan = familyPlan(req);
    if (!plan.ok) return plan;
    const current = this.holdings.get(req.key);
    if (current !== undefined && this.stillFits(current, req, plan.value)) return this.updateInPlace(current, req, plan.value);
    return this.reallocate(req, plan.value, current);
  }

  /** Frees a Service's IPs (deleted, no longer a LoadBalancer, or not ours). Returns what it held. */
  release(key: ServiceKey): Assignment | undefined {
    const holding = this.holdings.get(key);
    if (holding === undefined) return undefined;
    this.detachAll(holding);
    return toAssignment(holding);
  }

  /**
   * Rebuilds state from the IPs Services already show in their status, before anything new is
   * assigned, so a restart changes no IP. Older Services (creation time, then key) win when two
   * claim one IP; the loser's IP is reported, and a later assign() gives it a new one. A restored
   * IP need not match the request (pool annotation, auto-assign): assign() sorts that out after.
   */
  restore(entries: readonly RestoreEntry[]): readonly RestoreOutcome[] {
    const sorted = [...entries].sort(
      (a, b) => a.request.createdAt - b.request.createdAt || (a.request.key < b.request.key ? -1 : a.request.key > b.request.key ? 1 : 0),
    );
    return sorted.map((entry) => this.restoreOne(entry));
  }

  /**
   * Switches to a new config if every assigned IP stays valid under it: inside a pool (and a
   * usable address of it), and inside the pool its Service asks for. Otherwise refuses, names
   * the Services in the way, and keeps the old config.
   */
  setConfig(config: Config): Result<void, ConfigChangeError> {
    const pools = buildSpaces(config);
    const blockers = this.blockers(pools);
    if (blockers.length > 0) {
      const shown = blockers.slice(0, maxBlockersInMessage).map((b) => `${b.key} (${b.reason})`);
      const more = blockers.length > maxBlockersInMessage ? ` and ${blockers.length - maxBlockersInMessage} more` : '';
      return err({ kind: 'orphanedIps', blockers, message: `the new config would orphan assigned IPs: ${shown.join(', ')}${more}` });
    }
    for (const use of this.inUse.values()) {
      const found = poolCovering(pools, use);
      if (found === undefined || !found.space.take(use.value)) throw new Error(`allocator: ${use.text} vanished while switching config`);
      use.pool = found.pool.name;
    }
    for (const ip of this.blocked.values()) if (this.inUse.get(ip) === undefined) this.takeBlocked(pools, ip);
    this.config = config;
    this.pools = pools;
    this.autoPools = autoAssignPools(config);
    return ok(undefined);
  }

  /**
   * Makes `ips` the quarantined set (docs/controller.md "Quarantine"). Returns the Services that
   * hold a newly quarantined IP without having asked for it: the caller reassigns them.
   */
  setBlocked(ips: readonly IpAddr[]): readonly ServiceKey[] {
    const next = new Map(ips.map((ip) => [formatIp(ip), ip]));
    for (const [text, ip] of this.blocked) {
      if (next.has(text)) continue;
      this.blocked.delete(text);
      if (this.inUse.get(ip) === undefined) poolCovering(this.pools, ip)?.space.give(ip.value);
    }
    const moved: ServiceKey[] = [];
    for (const [text, ip] of next) {
      if (this.blocked.has(text)) continue;
      this.blocked.set(text, ip);
      const use = this.inUse.get(ip);
      if (use === undefined) this.takeBlocked(this.pools, ip);
      else moved.push(...use.users.filter((h) => h.request.requestedIps.length === 0).map((h) => h.request.key));
    }
    return moved;
  }

  /** Takes a quarantined, unheld address out of the free space of its pool in `pools`, if it has one. */
  private takeBlocked(pools: ReadonlyMap<PoolName, PoolSpaces>, ip: IpAddr): boolean {
    const found = poolCovering(pools, ip);
    return found !== undefined && found.space.usable(ip.value) && found.space.take(ip.value);
  }

  /** The IPs a Service holds, if any. */
  assignmentOf(key: ServiceKey): Assignment | undefined {
    const holding = this.holdings.get(key);
    return holding === undefined ? undefined : toAssignment(holding);
  }

  /** Every Service that holds IPs, and its IPs. */
  snapshot(): ReadonlyMap<ServiceKey, Assignment> {
    return new Map([...this.holdings].map(([key, h]) => [key, toAssignment(h)]));
  }

  /** The Services using an IP (more than one when shared). */
  usersOf(ip: IpAddr): readonly ServiceKey[] {
    return this.inUse.get(ip)?.users.map((h) => h.request.key) ?? [];
  }

  /** Addresses in use and in total per pool, in config order. */
  stats(): readonly PoolStats[] {
    return [...this.pools.values()].map(({ pool, spaces }) => {
      const families = [...spaces.values()].map((s) => ({ family: s.family, inUse: Number(s.inUse), total: s.total }));
      return {
        pool: pool.name,
        inUse: families.reduce((n, f) => n + f.inUse, 0),
        total: families.reduce((n, f) => n + f.total, 0n),
        families,
      };
    });
  }

  /**
   * Checks the internal invariants (for tests and debugging): every IP in use is held by its
   * users and taken in its pool, every holding's IPs list it, the sharing index matches.
   * Returns one line per broken invariant; empty when all hold.
   */
  verify(): readonly string[] {
    const problems: string[] = [];
    let taken = 0n;
    for (const { spaces } of this.pools.values()) for (const s of spaces.values()) taken += s.inUse;
    const blockedFree = [...this.blocked.values()].filter((ip) => this.inUse.get(ip) === undefined && poolCovering(this.pools, ip)?.space.usable(ip.value) === true).length;
    if (taken !== BigInt(this.inUse.size + blockedFree)) problems.push(`spaces mark ${taken} IPs taken, ${this.inUse.size} in use and ${blockedFree} quarantined`);
    problems.push(...this.inUse.verify());
    for (const use of this.inUse.values()) problems.push(...this.verifyUse(use));
    for (const [key, holding] of this.holdings) problems.push(...this.verifyHolding(key, holding));
    return problems;
  }

  private verifyHolding(key: ServiceKey, holding: Holding): string[] {
    const problems: string[] = [];
    if (holding.ips.length === 0) problems.push(`${key} holds no IP`);
    if (holding.request.key !== key) problems.push(`${key}: holding filed under the wrong key`);
    for (const use of holding.ips) if (this.inUse.get(use) !== use || !use.users.includes(holding)) problems.push(`${key}: ${use.text} does not list it`);
    return problems;
  }

  private isTaken(use: Use): boolean {
    const space = this.pools.get(use.pool)?.spaces.get(use.family);
    return space !== undefined && space.usable(use.value) && !space.isFree(use.value);
  }

  /** What ties an IP in use to the pools and the holdings (the index checks itself). */
  private verifyUse(use: Use): string[] {
    const problems: string[] = [];
    if (!this.isTaken(use)) problems.push(`${use.text} is not taken in pool ${use.pool}`);
    for (const h of use.users) if (this.holdings.get(h.request.key) !== h || !h.ips.includes(use)) problems.push(`${use.text}: user ${h.request.key} does not hold it`);
    return problems;
  }

  /** Whether the IPs held still satisfy the request, so they are kept. */
  private stillFits(holding: Holding, req: ServiceRequest, plan: FamilyPlan): boolean {
    const ips = holding.ips;
    if (ips.some((u) => unusableReason(this.pools, u) !== undefined)) return false;
    if (req.requestedPool !== undefined && holding.ips.some((u) => u.pool !== req.requestedPool)) return false;
    if (req.requestedIps.length > 0) return sameIpSet(ips, req.requestedIps);
    if (ips.some((u) => this.blocked.has(u.text))) return false;
    const wanted = [...plan.required, ...plan.optional];
    return ips.every((ip) => wanted.includes(ip.family)) && plan.required.every((f) => ips.some((ip) => ip.family === f));
  }

  /** Keeps the IPs; re-checks sharing with the new ports, key and selector; adds a preferred family if it can. */
  private updateInPlace(holding: Holding, req: ServiceRequest, plan: FamilyPlan): Result<AssignOutcome, AllocationError> {
    const backend = backendKey(req);
    for (const use of holding.ips) {
      const refusal = this.inUse.refusalToStay(use, req, backend);
      if (refusal !== undefined) return err(refusal);
    }
    holding.request = req;
    for (const use of holding.ips) if (use.users.length === 1) this.inUse.rekey(use, req.sharingKey, backend);
    const added = this.addPreferred(holding, req, plan, backend);
    return ok({ assignment: toAssignment(holding), changed: added });
  }

  /** For PreferDualStack: adds the missing optional family from the pool of the primary IP. */
  private addPreferred(holding: Holding, req: ServiceRequest, plan: FamilyPlan, backend: string): boolean {
    const primary = holding.ips[0];
    if (primary === undefined) return false;
    let added = false;
    for (const family of plan.optional) {
      if (holding.ips.some((u) => u.family === family)) continue;
      const pick = this.pickInPool(primary.pool, family, req, backend, []);
      if (pick === undefined) continue;
      holding.ips.push(this.attach(holding, pick, backend));
      added = true;
    }
    return added;
  }

  /** Moves a Service to new IPs; on failure puts it back exactly as it was. */
  private reallocate(req: ServiceRequest, plan: FamilyPlan, current: Holding | undefined): Result<AssignOutcome, AllocationError> {
    const hints: readonly Pick[] = current === undefined ? noHints : current.ips;
    if (current !== undefined) this.detachAll(current);
    const picks = req.requestedIps.length > 0 ? this.pickRequested(req, plan) : this.pickFromPools(req, plan, hints);
    if (!picks.ok) {
      if (current !== undefined) this.reattach(current);
      return picks;
    }
    const backend = backendKey(req);
    const holding: Holding = { request: req, ips: [] };
    // map(), not push(): docs/ipam.md "Heap".
    holding.ips = picks.value.map((pick) => this.attach(holding, pick, backend));
    this.holdings.set(req.key, holding);
    const changed = current === undefined || !sameIpSet(current.ips, holding.ips);
    return ok({ assignment: toAssignment(holding), changed });
  }

  /** The requested IPs (primary family first), each checked against the pools and its current users. */
  private pickRequested(req: ServiceRequest, plan: FamilyPlan): Result<Pick[], AllocationError> {
    if (req.requestedPool !== undefined && !this.pools.has(req.requestedPool)) return err(allocationError.noSuchPool(req.requestedPool));
    const backend = backendKey(req);
    const picks: Pick[] = [];
    const ordered = [...req.requestedIps].sort((a, b) => plan.required.indexOf(a.family) - plan.required.indexOf(b.family));
    for (const ip of ordered) {
      const text = formatIp(ip);
      const found = poolCovering(this.pools, ip);
      if (found === undefined) return err(allocationError.notInAnyPool(text));
      if (req.requestedPool !== undefined && found.pool.name !== req.requestedPool) return err(allocationError.notInPool(text, req.requestedPool));
      if (!found.space.usable(ip.value)) return err(allocationError.buggy(text, found.pool.name));
      const refusal = this.inUse.refusal(ip, req, backend);
      if (refusal !== undefined) return err(refusal);
      picks.push({ family: ip.family, value: ip.value, pool: found.pool.name });
    }
    return ok(picks);
  }

  /** The pools to try, in order: the asked-for one only; else the Service's previous pools, then auto-assign pools. */
  private candidatePools(req: ServiceRequest, hints: readonly Pick[]): readonly PoolName[] {
    if (req.requestedPool !== undefined) return [req.requestedPool];
    if (hints.length === 0) return this.autoPools;
    const previous = hints.map((h) => h.pool).filter((p) => this.pools.has(p));
    return [...new Set([...previous, ...this.autoPools])];
  }

  /** One IP of each family from the first pool that has them all; PreferDualStack falls back to the required families. */
  private pickFromPools(req: ServiceRequest, plan: FamilyPlan, hints: readonly Pick[]): Result<Pick[], AllocationError> {
    if (req.requestedPool !== undefined && !this.pools.has(req.requestedPool)) return err(allocationError.noSuchPool(req.requestedPool));
    const backend = backendKey(req);
    const candidates = this.candidatePools(req, hints);
    const passes = plan.optional.length > 0 ? [[...plan.required, ...plan.optional], plan.required] : [plan.required];
    for (const families of passes) {
      for (const pool of candidates) {
        const picks = this.pickAll(pool, families, req, backend, hints);
        if (picks !== undefined) return ok(picks);
      }
    }
    return err(this.exhaustion(req, plan, backend, candidates));
  }

  /** One IP of each family from `pool`, or undefined when it lacks any. */
  private pickAll(pool: PoolName, families: readonly IpFamily[], req: ServiceRequest, backend: string, hints: readonly Pick[]): Pick[] | undefined {
    // map(), not push(): docs/ipam.md "Heap".
    const picks = families.map((family) => this.pickInPool(pool, family, req, backend, hints));
    return picks.every((pick) => pick !== undefined) ? picks : undefined;
  }

  /** The most precise reason no pool could serve the request. */
  private exhaustion(req: ServiceRequest, plan: FamilyPlan, backend: string, candidates: readonly PoolName[]): AllocationError {
    const missing = plan.required.find((f) => candidates.every((pool) => this.pickInPool(pool, f, req, backend, []) === undefined));
    const family = missing ?? plan.required[0] ?? 4;
    if (req.requestedPool !== undefined) return allocationError.exhausted(req.requestedPool, family);
    return missing === undefined ? noDualStackPool(family, this.autoPools) : allocationError.noAutoPool(family, this.autoPools);
  }

  /**
   * An IP of `family` in `pool` for `req`: its previous IP if still possible, else an IP
   * already shared under its key that it may join, else the lowest free address.
   */
  private pickInPool(poolName: PoolName, family: IpFamily, req: ServiceRequest, backend: string, hints: readonly Pick[]): Pick | undefined {
    const space = this.pools.get(poolName)?.spaces.get(family);
    if (space === undefined) return undefined;
    for (const hint of hints) {
      if (hint.pool === poolName && hint.family === family && this.joinable(space, hint, req, backend)) return hint;
    }
    const shared = this.sharedCandidate(poolName, family, req, backend);
    if (shared !== undefined) return shared;
    const free = space.lowestFree();
    return free === undefined ? undefined : { family, value: free, pool: poolName, free: true };
  }

  /** Whether `req` may take `ip` of `space`: free, or in use by Services it may share with. */
  private joinable(space: AddressSpace, ip: IpAddr, req: ServiceRequest, backend: string): boolean {
    if (!space.usable(ip.value)) return false;
    const use = this.inUse.get(ip);
    return use === undefined ? space.isFree(ip.value) : this.inUse.refusal(use, req, backend) === undefined;
  }

  /** The lowest IP of the pool and family shared under the request's key that it may join. */
  private sharedCandidate(poolName: PoolName, family: IpFamily, req: ServiceRequest, backend: string): Pick | undefined {
    if (req.sharingKey === undefined) return undefined;
    const uses = [...this.inUse.sharedUnder(req.sharingKey)]
      .filter((u) => u.pool === poolName && u.family === family && this.inUse.refusal(u, req, backend) === undefined)
      .sort(compareIp);
    return uses[0];
  }

  /** Adds a holding as a user of the picked IP, taking it from its pool when it was free. */
  private attach(holding: Holding, pick: Pick, backend: string): Use {
    const existing = pick.free === true ? undefined : this.inUse.get(pick);
    if (existing !== undefined) {
      if (!existing.users.includes(holding)) existing.users.push(holding);
      return existing;
    }
    const { family, value } = pick;
    const space = this.pools.get(pick.pool)?.spaces.get(family);
    // A quarantined address is already out of the free space (only a request or a restore reaches it).
    if (!this.blocked.has(formatIp(pick)) && space?.take(value) !== true) throw new Error(`allocator: ${formatIp(pick)} is not free in pool ${pick.pool}`);
    const use = new IpUse(family, value, pick.pool, holding.request.sharingKey, backend, [holding]);
    this.inUse.add(use);
    return use;
  }

  /** Removes a Service from all its IPs, freeing those it was the last user of. */
  private detachAll(holding: Holding): void {
    for (const use of holding.ips) {
      removeUser(use, holding);
      if (use.users.length > 0) continue;
      this.inUse.remove(use);
      if (!this.blocked.has(use.text)) this.pools.get(use.pool)?.spaces.get(use.family)?.give(use.value);
    }
    this.holdings.delete(holding.request.key);
  }

  /** Undoes detachAll for a holding whose re-allocation failed: same IPs, same records. */
  private reattach(holding: Holding): void {
    for (const use of holding.ips) {
      const live = this.inUse.get(use);
      if (live !== undefined && live !== use) throw new Error(`allocator: ${use.text} changed hands during a failed re-allocation`);
      if (live === undefined) {
        const space = this.pools.get(use.pool)?.spaces.get(use.family);
        if (!this.blocked.has(use.text) && space?.take(use.value) !== true) throw new Error(`allocator: cannot take back ${use.text}`);
        use.sharingKey = holding.request.sharingKey;
        this.inUse.add(use);
      }
      if (!use.users.includes(holding)) use.users.push(holding);
    }
    this.holdings.set(holding.request.key, holding);
  }

  private restoreOne(entry: RestoreEntry): RestoreOutcome {
    const req = entry.request;
    if (this.holdings.has(req.key)) this.release(req.key);
    const backend = backendKey(req);
    const holding: Holding = { request: req, ips: [] };
    const rejected: { ip: IpAddr; error: AllocationError }[] = [];
    for (const ip of entry.ips) {
      if (holding.ips.some((u) => compareIp(u, ip) === 0)) continue;
      const error = unusableReason(this.pools, ip) ?? this.restoreRefusal(ip, req, backend);
      if (error !== undefined) {
        rejected.push({ ip, error });
        continue;
      }
      const pool = poolCovering(this.pools, ip)?.pool.name;
      if (pool !== undefined) holding.ips.push(this.attach(holding, { family: ip.family, value: ip.value, pool }, backend));
    }
    if (holding.ips.length > 0) this.holdings.set(req.key, holding);
    return { key: req.key, restored: holding.ips.map(toAssigned), rejected };
  }

  private restoreRefusal(ip: IpAddr, req: ServiceRequest, backend: string): AllocationError | undefined {
    return this.inUse.refusal(ip, req, backend);
  }

  /**
   * The Services whose IPs `pools` would not cover, or would move out of the pool they ask
   * for (an IP that was outside it already, say after a restore, blocks nothing).
   */
  private blockers(pools: ReadonlyMap<PoolName, PoolSpaces>): ConfigBlocker[] {
    const blockers: ConfigBlocker[] = [];
    for (const use of this.inUse.values()) {
      const reason = unusableReason(pools, use);
      const pool = poolCovering(pools, use)?.pool.name;
      for (const { request: { key, requestedPool: wanted } } of use.users) {
        if (reason !== undefined) blockers.push({ key, ip: use.text, reason: reason.message });
        else if (wanted === use.pool && wanted !== pool) blockers.push({ key, ip: use.text, reason: `${use.text} would leave pool "${wanted}", which the Service asks for` });
      }
    }
    return blockers.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
