import { describe, expect, it } from 'vitest';
import { pairReplies, readPcap, roundOrder, roundRatio } from '../../bench/layer2.js';
import { hex, packet } from './layer2/fixtures.js';

const request = Buffer.from(packet('arp-request')); // who-has 10.0.0.100 tell 10.0.0.2

function withBytes(frame: Buffer, at: number, bytes: readonly number[]): Buffer {
  const out = Buffer.from(frame);
  out.set(bytes, at);
  return out;
}

/** The answer to `req`: op 2, sender = the target, target = the requester. */
function reply(req: Buffer): Buffer {
  const out = withBytes(req, 20, [0, 2]);
  req.copy(out, 28, 38, 42);
  req.copy(out, 38, 28, 32);
  return out;
}

const from = (last: number): Buffer => withBytes(request, 28, [10, 0, 0, last]);
const target = (key: string): boolean => key.startsWith('0a000064|');

describe('the layer2 bench pairs every probe with its answer', () => {
  it('pairs by requester, so a late answer is not taken for the next probe, and counts the unanswered', () => {
    const frames = [
      { t: 1.0, data: from(3) },
      { t: 1.004, data: from(4) },
      { t: 1.00401, data: reply(from(4)) },
      { t: 1.05, data: reply(from(3)) }, // 50 ms late
      { t: 1.008, data: from(5) }, // never answered
    ];
    const { samples, seen } = pairReplies(frames, target);
    expect(seen).toBe(3);
    expect(samples.map((us) => Math.round(us))).toEqual([10, 50_000]);
  });

  it('ignores frames for other targets', () => {
    const other = withBytes(from(3), 38, [10, 0, 0, 7]);
    expect(pairReplies([{ t: 1, data: other }, { t: 1.1, data: reply(other) }], target)).toEqual({ samples: [], seen: 0 });
  });

  it('reads nanosecond pcap files', () => {
    const header = hex('4d3cb2a1 0200 0400 00000000 00000000 ffff0000 01000000');
    const record = Buffer.alloc(16);
    record.writeUInt32LE(7, 0);
    record.writeUInt32LE(500, 4);
    record.writeUInt32LE(request.length, 8);
    record.writeUInt32LE(request.length, 12);
    const frames = readPcap(Buffer.concat([header, record, request]));
    expect(frames).toHaveLength(1);
    expect(frames[0]?.t).toBeCloseTo(7.0000005, 9);
    expect(frames[0]?.data.equals(request)).toBe(true);
  });
});

describe('the layer2 bench compares modes within rounds', () => {
  it.each([
    { name: 'first round as listed', round: 1, order: ['a', 'b', 'c'] },
    { name: 'second round starts one later', round: 2, order: ['b', 'c', 'a'] },
    { name: 'wraps around', round: 4, order: ['a', 'b', 'c'] },
  ])('rotates the modes: $name', ({ round, order }) => {
    expect(roundOrder(['a', 'b', 'c'], round)).toEqual(order);
  });

  it.each([
    // One loaded round (both slow) moves a ratio of pooled medians; the median of per-round ratios holds.
    { name: 'one loaded round', a: [40, 42, 400], b: [80, 80, 500], ratio: 0.53, perRound: [0.5, 0.53, 0.8] },
    { name: 'even count: the middle two averaged', a: [10, 30], b: [20, 20], ratio: 1, perRound: [0.5, 1.5] },
    { name: 'rounds beyond the shorter list ignored', a: [10, 10, 10], b: [20], ratio: 0.5, perRound: [0.5] },
  ])('takes the median of per-round ratios: $name', ({ a, b, ratio, perRound }) => {
    expect(roundRatio(a, b)).toEqual({ value: ratio, perRound });
  });

  it('has no ratio without rounds to compare', () => {
    expect(roundRatio([], [10])).toBeUndefined();
    expect(roundRatio([10], [0])).toBeUndefined();
  });
});
