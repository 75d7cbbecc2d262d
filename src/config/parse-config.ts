import type { PoolName } from '../shared/brand.js';
import { err, ok, type Result } from '../shared/result.js';
import type { AddressEntry, Config, ConfigIssue, Pool } from './config.js';
import { describeValue, quote } from './describe-value.js';
import { findOverlaps, type PlacedRange } from './overlaps.js';
import { parseAddressEntry } from './parse-address.js';
import { fieldPath, IssueList, isWireMap, readOptionalBoolean, unknownKeyMessage, type WireMap } from './wire.js';

const bgpOnly = 'bgp is not supported, layer2 only';
const topKeys = ['address-pools'] as const;
/** MetalLB v0.12 top-level keys that only BGP mode uses. */
const bgpTopKeys = ['peers', 'bgp-communities'];
const poolKeys = ['name', 'protocol', 'addresses', 'auto-assign', 'avoid-buggy-ips'] as const;
/** Pool names end up in annotations, metric labels and messages: keep them plain. */
const poolNamePattern = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const maxPoolNameLength = 253;

/** A pool as far as it parsed: its label for messages and the entries that were valid. */
interface PoolParse {
  readonly pool: Pool | undefined;
  readonly name: string | undefined;
  readonly label: string;
  readonly entries: readonly PlacedRange[];
}

function checkPoolKeys(map: WireMap, label: string, issues: IssueList): void {
  for (const key of Object.keys(map)) {
    if ((poolKeys as readonly string[]).includes(key)) continue;
    if (key === 'bgp-advertisements') {
      issues.add(fieldPath(label, key), 'bgp-advertisements are for bgp pools only, and ironlb pools are layer2');
    } else {
      issues.add(label, unknownKeyMessage(key, poolKeys));
    }
  }
}

function readName(map: WireMap, path: string, issues: IssueList): string | undefined {
  const value = map.name;
  if (value === undefined) {
    issues.add(path, 'missing required key "name"');
    return undefined;
  }
  if (typeof value !== 'string') {
    issues.add(fieldPath(path, 'name'), `expected a string, got ${describeValue(value)}`);
    return undefined;
  }
  if (value.length > maxPoolNameLength || !poolNamePattern.test(value)) {
    issues.add(fieldPath(path, 'name'), `${quote(value)} is not a valid pool name: use letters, digits, ".", "_" and "-" (at most ${maxPoolNameLength}), starting and ending with a letter or digit`);
    return undefined;
  }
  return value;
}

function readProtocol(map: WireMap, label: string, issues: IssueList): 'layer2' | undefined {
  const value = map.protocol;
  const path = fieldPath(label, 'protocol');
  if (value === undefined) {
    issues.add(label, 'missing required key "protocol" (ironlb supports layer2)');
  } else if (typeof value !== 'string') {
    issues.add(path, `expected a string, got ${describeValue(value)}`);
  } else if (value === 'layer2') {
    return 'layer2';
  } else if (value === 'bgp') {
    issues.add(path, `"bgp": ${bgpOnly}`);
  } else {
    issues.add(path, `unknown protocol ${quote(value)}: the only one is layer2`);
  }
  return undefined;
}

function readAddressList(map: WireMap, label: string, issues: IssueList): readonly unknown[] | undefined {
  const value = map.addresses;
  if (value === undefined) {
    issues.add(label, 'missing required key "addresses"');
    return undefined;
  }
  if (!Array.isArray(value)) {
    issues.add(fieldPath(label, 'addresses'), `expected a list of CIDRs or ranges, got ${describeValue(value)}`);
    return undefined;
  }
  if (value.length === 0) issues.add(fieldPath(label, 'addresses'), 'the list is empty: give at least one CIDR or range');
  return value as readonly unknown[];
}

/** The valid entries of a pool's `addresses`, with their index in the list. */
function readAddresses(map: WireMap, label: string, issues: IssueList): { index: number; entry: AddressEntry }[] {
  const list = readAddressList(map, label, issues) ?? [];
  const entries: { index: number; entry: AddressEntry }[] = [];
  list.forEach((item, i) => {
    const path = fieldPath(label, `addresses[${i}]`);
    if (typeof item !== 'string') {
      issues.add(path, `expected a string (a CIDR or a range), got ${describeValue(item)}`);
      return;
    }
    const entry = parseAddressEntry(item);
    if (entry.ok) entries.push({ index: i, entry: entry.value });
    else issues.add(path, entry.error);
  });
  return entries;
}

function labelFor(index: number, map: WireMap): string {
  const name = map.name;
  return typeof name === 'string' && name !== '' ? `address-pools[${index}] ${quote(name)}` : `address-pools[${index}]`;
}

function parsePool(raw: unknown, index: number, issues: IssueList): PoolParse {
  if (!isWireMap(raw)) {
    const label = `address-pools[${index}]`;
    issues.add(label, `expected a map with name, protocol and addresses, got ${describeValue(raw)}`);
    return { pool: undefined, name: undefined, label, entries: [] };
  }
  const label = labelFor(index, raw);
  const before = issues.items.length;
  checkPoolKeys(raw, label, issues);
  const name = readName(raw, label, issues);
  const protocol = readProtocol(raw, label, issues);
  const entries = readAddresses(raw, label, issues);
  const autoAssign = readOptionalBoolean(raw, 'auto-assign', true, label, issues);
  const avoidBuggyIPs = readOptionalBoolean(raw, 'avoid-buggy-ips', false, label, issues);
  const placed = entries.map(({ index: entryIndex, entry }) => ({ poolIndex: index, poolLabel: label, entryIndex, text: entry.text, range: entry.range }));
  const valid = issues.items.length === before && name !== undefined && protocol !== undefined;
  const addresses = entries.map((e) => e.entry);
  const pool = valid ? { name: name as PoolName, protocol, autoAssign, avoidBuggyIPs, addresses } : undefined;
  return { pool, name, label, entries: placed };
}

function checkDuplicateNames(parses: readonly PoolParse[], issues: IssueList): void {
  const seen = new Map<string, number>(); // name -> index of its first pool
  parses.forEach((p, i) => {
    if (p.name === undefined) return;
    const first = seen.get(p.name);
    if (first === undefined) seen.set(p.name, i);
    else issues.add(fieldPath(p.label, 'name'), `${quote(p.name)} is already the name of address-pools[${first}]`);
  });
}

function checkTopKeys(raw: WireMap, issues: IssueList): void {
  for (const key of Object.keys(raw)) {
    if ((topKeys as readonly string[]).includes(key)) continue;
    if (bgpTopKeys.includes(key)) issues.add(key, bgpOnly);
    else issues.add('', unknownKeyMessage(key, topKeys));
  }
}

function readPoolList(raw: WireMap, issues: IssueList): readonly unknown[] {
  const value = raw['address-pools'];
  if (value === undefined) return [];
  if (Array.isArray(value)) return value as readonly unknown[];
  issues.add('address-pools', `expected a list of pools, got ${describeValue(value)}`);
  return [];
}

/**
 * Parses a decoded MetalLB v0.12 config (`address-pools`, layer2 only) strictly: unknown keys,
 * wrong types, bgp, bad or overlapping addresses and duplicate names are all reported, each
 * with its path and the offending value. The result is either a whole Config or every issue.
 */
export function parseConfig(raw: unknown): Result<Config, readonly ConfigIssue[]> {
  const issues = new IssueList();
  if (raw === null || raw === undefined) return err([{ path: '', message: 'the config is empty: expected a map with address-pools' }]);
  if (!isWireMap(raw)) return err([{ path: '', message: `expected a map with address-pools, got ${describeValue(raw)}` }]);
  checkTopKeys(raw, issues);
  const parses = readPoolList(raw, issues).map((p, i) => parsePool(p, i, issues));
  checkDuplicateNames(parses, issues);
  for (const issue of findOverlaps(parses.flatMap((p) => p.entries))) issues.add(issue.path, issue.message);
  if (issues.items.length > 0) return err(issues.items);
  return ok({ pools: parses.map((p) => p.pool).filter((p): p is Pool => p !== undefined) });
}
