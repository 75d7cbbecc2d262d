// `npm run bench -- --only election`: what one speaker's election costs at 100 to 1,000 nodes and
// 1,000 Services, today's election (the oracle, test/helpers/election-oracle.ts) beside the
// election that judges each node once, indexes reach and walks its rendezvous memo, in one run.
import { isDeepStrictEqual } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { electOwners, type ElectionInput } from '../src/election/election.js';
import type { NodeReach } from '../src/election/reach.js';
import { createRendezvousMemo } from '../src/election/rendezvous-memo.js';
import { sha256Hex } from '../src/election/rendezvous.js';
import type { ElectionService } from '../src/election/views.js';
import { parseCidr, type Cidr } from '../src/ip/cidr.js';
import type { NodeName, ServiceKey } from '../src/shared/brand.js';
import { desiredAnnouncements, type SpeakerSnapshot } from '../src/speaker/desired.js';
import { defaultStandbyCount } from '../src/speaker/standby.js';
import { electOwnersOracle } from '../test/helpers/election-oracle.js';
import type { BenchResult, BenchSuite } from './types.js';

/** Services in every scenario, as in the `scale` suites. */
export const benchServices = 1000;
const samples = 3;

const nodeName = (i: number): NodeName => `node-${String(i).padStart(4, '0')}` as NodeName;
/** The IP of the `i`-th Service (10.100.0.0 onwards, 250 per /24). */
const serviceIp = (i: number): string => `10.${String(100 + Math.floor(i / 250))}.${String(Math.floor(i / 250) % 256)}.${String(i % 250)}`;

/**
 * The speaker's election input for `nodes` alive, settled nodes, all reaching every IP (no
 * interfaces records), and 1,000 single-IP `Cluster` Services with an endpoint everywhere: every
 * node is a candidate for every IP, as on one flat subnet.
 */
export function allCandidatesSnapshot(nodes: readonly NodeName[], standbyCount: number): SpeakerSnapshot {
  const services = Array.from({ length: benchServices }, (_, i) => ({
    key: `bench/s${String(i)}` as ServiceKey,
    ips: [serviceIp(i)],
    endpoints: [{ ready: true, serving: true, terminating: false }],
    trafficPolicy: 'Cluster' as const,
  }));
  const all = new Set(nodes);
  return {
    self: '' as NodeName,
    services,
    nodes: nodes.map((name) => ({ name, labels: {}, conditions: {} })),
    alive: all,
    settled: all,
    currentOwners: new Map(),
    isLayer2: () => true,
    options: { ignoreExcludeLabel: false },
    standbyCount,
  };
}

/** One scenario: the input before and after one member is reaped (its Node object stays, as in a failover). */
interface Scenario {
  readonly name: string;
  readonly nodes: number;
  readonly before: ElectionInput;
  readonly after: ElectionInput;
}

const toInput = (s: SpeakerSnapshot, reach?: ReadonlyMap<NodeName, NodeReach>): ElectionInput => ({
  services: s.services,
  cluster: { nodes: new Map(s.nodes.map((x) => [x.name, x])), alive: s.alive, ...(reach === undefined ? {} : { reach }), options: s.options },
  settled: s.settled,
  currentOwners: s.currentOwners,
  standbyCount: defaultStandbyCount,
});

/** The same input with `node` reaped: no longer alive nor settled, its recorded IPs gone. */
function reaped(input: ElectionInput, node: NodeName): ElectionInput {
  const alive = new Set([...input.cluster.alive].filter((x) => x !== node));
  return {
    ...input,
    cluster: { ...input.cluster, alive },
    settled: new Set([...input.settled].filter((x) => x !== node)),
    currentOwners: new Map([...input.currentOwners].filter(([, owner]) => owner !== node)),
  };
}

/** The owners the election gives `input`, recorded as if every owner announced (the steady state). */
function recorded(input: ElectionInput): ElectionInput {
  const owners = new Map([...electOwners(input)].flatMap(([ip, e]) => (e.owner === undefined ? [] : [[ip, e.owner] as const])));
  return { ...input, currentOwners: owners };
}

function cidr(text: string): Cidr {
  const c = parseCidr(text);
  if (!c.ok) throw new Error(`bad CIDR ${text}`);
  return c.value;
}

/**
 * `all`: every node a candidate for every IP (one flat subnet). `reach`: as `scale-real.n1000`,
 * 4 nodes on the pools' subnet and the others publishing another one (the candidates are 4).
 * `local`: `externalTrafficPolicy: Local`, endpoints on 3 nodes per Service. Each at steady
 * state (every IP recorded by its owner), then the owner of the first IP is reaped.
 */
function scenario(name: 'all' | 'reach' | 'local', nodes: number): Scenario {
  const names = Array.from({ length: nodes }, (_, i) => nodeName(i));
  const snap = allCandidatesSnapshot(names, defaultStandbyCount);
  let input = toInput(snap);
  if (name === 'reach') {
    const pools = cidr('10.96.0.0/11');
    const other = cidr('172.30.0.0/16');
    input = toInput(snap, new Map(names.map((node, i): [NodeName, NodeReach] => [node, { kind: 'prefixes', prefixes: [i < 4 ? pools : other] }])));
  } else if (name === 'local') {
    const services: ElectionService[] = snap.services.map((s, i) => ({
      ...s,
      trafficPolicy: 'Local',
      endpoints: [0, 1, 2].map((j) => ({ nodeName: names[(i * 7 + j * 131) % nodes] ?? nodeName(0), ready: true, serving: true, terminating: false })),
    }));
    input = { ...input, services };
  }
  const before = recorded(input);
  const victim = before.currentOwners.get(serviceIp(0)) ?? nodeName(0);
  return { name, nodes, before, after: reaped(before, victim) };
}

function timed(run: () => unknown): number {
  const t0 = performance.now();
  run();
  return performance.now() - t0;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const sortedEntries = <T>(m: ReadonlyMap<string, T>): [string, T][] => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Throws unless the new election gave exactly the oracle's answer: a figure for a wrong election is worth nothing. */
function assertSame(what: string, got: ReadonlyMap<string, unknown>, want: ReadonlyMap<string, unknown>): void {
  if (!isDeepStrictEqual(sortedEntries(got), sortedEntries(want))) throw new Error(`election bench: ${what}: the election differs from the oracle (today's election)`);
}

/** The figures of one scenario: the oracle and the new election without a memo, cold and warm (after the reap). */
function measure(s: Scenario): BenchResult[] {
  const want = electOwnersOracle(s.after);
  const oracleMs = median(Array.from({ length: samples }, () => timed(() => electOwnersOracle(s.after))));
  const noMemoMs = median(Array.from({ length: samples }, () => timed(() => { assertSame(`${s.name} n${String(s.nodes)} without a memo`, electOwners(s.after), want); })));
  // Cold: a speaker's first election (its memo empty); warm: the elections after a reap, as every speaker runs on a failover.
  const coldMs = median(Array.from({ length: samples }, () => {
    const memo = createRendezvousMemo({ hash: sha256Hex });
    return timed(() => electOwners(s.before, sha256Hex, memo));
  }));
  const memo = createRendezvousMemo({ hash: sha256Hex });
  electOwners(s.before, sha256Hex, memo);
  const warm: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    let got: ReadonlyMap<string, unknown> = new Map();
    warm.push(timed(() => (got = electOwners(s.after, sha256Hex, memo))));
    assertSame(`${s.name} n${String(s.nodes)} warm`, got, want);
  }
  const warmMs = median(warm);
  const prefix = `election.${s.name}`;
  const tag = `n${String(s.nodes)}`;
  const ms = (x: number): number => Math.round(x * 10) / 10;
  return [
    { name: `${prefix}.oracle_ms.${tag}`, value: ms(oracleMs), unit: 'ms (today\'s election, median of 3)' },
    { name: `${prefix}.no_memo_ms.${tag}`, value: ms(noMemoMs), unit: 'ms (median of 3)' },
    { name: `${prefix}.cold_ms.${tag}`, value: ms(coldMs), unit: 'ms (first election, memo filled, median of 3)' },
    { name: `${prefix}.warm_ms.${tag}`, value: ms(warmMs), unit: 'ms (after a reap, median of 3)' },
    { name: `${prefix}.speedup.${tag}`, value: Math.round(oracleMs / warmMs), unit: '× (oracle / warm)' },
  ];
}

/**
 * Milliseconds of one speaker election (`desiredAnnouncements`, 2 standbys named) when all `n`
 * nodes are candidates for each of the 1,000 IPs, as the speaker runs it on a failover: its memo
 * warm from the election before, one member reaped since. Median of 3.
 */
export function allCandidatesElectionMs(n: number): number {
  const names = Array.from({ length: n }, (_, i) => nodeName(i));
  const before = allCandidatesSnapshot(names, defaultStandbyCount);
  const alive = new Set(names.slice(1));
  const after = { ...before, alive, settled: alive };
  const memo = createRendezvousMemo({ hash: sha256Hex });
  desiredAnnouncements(before, undefined, memo);
  return median(Array.from({ length: samples }, () => timed(() => desiredAnnouncements(after, undefined, memo))));
}

/**
 * The heap a warm memo holds for `n` nodes and 1,000 anchors, in kB: heap after a full GC with
 * the memo alive minus after it is dropped. `--expose-gc` is switched on for this (V8 flag).
 */
function memoHeapKb(n: number): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const input = toInput(allCandidatesSnapshot(Array.from({ length: n }, (_, i) => nodeName(i)), defaultStandbyCount));
  // The memo lives only inside this call: once it returns, nothing holds it.
  const withMemo = ((): number => {
    const memo = createRendezvousMemo({ hash: sha256Hex });
    electOwners(input, sha256Hex, memo);
    if (memo.size() !== benchServices) throw new Error(`election bench: the memo holds ${String(memo.size())} anchors, not ${String(benchServices)}`);
    gc();
    return process.memoryUsage().heapUsed;
  })();
  gc();
  return Math.round((withMemo - process.memoryUsage().heapUsed) / 1024);
}

const notes = `
One speaker's election (\`electOwners\`, 2 standbys per owner) over ${String(benchServices)} single-IP Services, timed in the
bench process, median of ${String(samples)}. Each scenario starts at steady state (every IP recorded by the owner its
election gives), then the owner of one IP is reaped (no longer alive; its Node object stays): the election
every speaker runs on a failover. \`oracle_ms\` is today's election before the change, kept verbatim in
test/helpers/election-oracle.ts (it judged every node for every Service, scanned every node's published
prefixes for every IP, and hashed sha256(node#anchor) for every candidate of every group: once for the
standbys, and once more for the owner when no recorded owner kept the IP; with every IP recorded here it
hashes once per candidate, so \`all.oracle_ms.n1000\` is below the seconds \`scale-real.n1000.election_all_candidates_ms\`
measured for it with no IP recorded);
\`no_memo_ms\` the new election without a memo (each node judged once, reach indexed, one hash per
candidate per group); \`cold_ms\` with a fresh memo (a speaker's first election: the memo takes one hash per
known node per anchor); \`warm_ms\` with the memo of the election before (what a speaker runs after a reap or
a release: no hash at all); \`speedup\` = oracle / warm. Every run checks that the new election's answer
(owners, standbys and their order, reasons, \`ineligible\`, \`noInterface\`) equals the oracle's, and fails
otherwise. Scenarios: \`all\`, every node a candidate for every IP (one flat subnet, endpoints everywhere:
the worst case for the old election); \`reach\`, as \`scale-real.n1000\`: 4 nodes on the pools' subnet, the
others publishing another one; \`local\`, \`externalTrafficPolicy: Local\` with endpoints on 3 nodes per
Service. \`all_candidates_ms.n1000\` is the speaker's whole election (\`desiredAnnouncements\`) in the \`all\`
case, warm; \`memo_heap_kb.n1000\` the heap a warm memo holds for 1,000 anchors (heap after a full GC with
and without it; it keeps the first 16 nodes per anchor, so it grows with Services, not with nodes).
The machine is shared: times move with its load.
`;

/** `npm run bench -- --only election`: today's election beside the new one, 100 to 1,000 nodes. */
export const electionSuite: BenchSuite & { readonly notes: string } = {
  name: 'election',
  notes,
  needsRoot: false,
  run(ctx) {
    const results: BenchResult[] = [];
    // A throw-away round first, so the first figures do not carry the JIT's warm-up.
    measure(scenario('all', 100));
    const runs: ['all' | 'reach' | 'local', number][] = [['all', 100], ['all', 300], ['all', 1000], ['reach', 1000], ['local', 1000]];
    for (const [name, nodes] of runs) {
      if (ctx.wants?.(`election.${name}.`) === false) continue;
      ctx.log(`election ${name} n=${String(nodes)}`);
      results.push(...measure(scenario(name, nodes)));
    }
    if (ctx.wants?.('election.all_candidates_ms') !== false) results.push({ name: 'election.all_candidates_ms.n1000', value: Math.round(allCandidatesElectionMs(1000)), unit: 'ms (desiredAnnouncements, warm, median of 3)' });
    if (ctx.wants?.('election.memo_heap_kb') !== false) results.push({ name: 'election.memo_heap_kb.n1000', value: memoHeapKb(1000), unit: 'kB (1,000 anchors)' });
    return Promise.resolve(results);
  },
};
