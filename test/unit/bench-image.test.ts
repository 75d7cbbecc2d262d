import { describe, expect, it } from 'vitest';
import { scriptStages, stepTimes, type TimedLine } from '../../bench/image.js';

// What scripts/build-image.sh and podman 4.3 (buildah) print for a two-stage build, with the
// arrival time of each line in ms.
const log: readonly TimedLine[] = [
  [0, 'build-image: tools and podman setup          0.1 s'],
  [100, 'build-image: docker.io/library/node:24-bookworm cached'],
  [1200, 'build-image: bases                           1.1 s'],
  [1300, '[1/2] STEP 1/4: FROM docker.io/library/node:24-bookworm AS build'],
  [1500, '[1/2] STEP 2/4: WORKDIR /src'],
  [1600, '--> 3c0f5e1d2a4b'],
  [1700, '[1/2] STEP 3/4: RUN apt-get update -qq && apt-get install -y clang'],
  [31_700, '--> 9a8b7c6d5e4f'],
  [31_800, '[1/2] STEP 4/4: RUN npm ci && npm prune --omit=dev'],
  [151_800, '--> 1f2e3d4c5b6a'],
  [151_900, '[2/2] STEP 1/3: FROM docker.io/library/node:24-bookworm-slim'],
  [152_000, '[2/2] STEP 2/3: RUN apt-get update -qq && apt-get install -y libbpf1'],
  [162_000, '[2/2] STEP 3/3: COPY --from=build /src/dist ./dist'],
  [164_000, '[2/2] COMMIT localhost/ironlb:0.1.0'],
  [165_000, '--> 7b015748db74'],
  [165_000, 'Successfully tagged localhost/ironlb:0.1.0'],
  [165_100, 'build-image: image localhost/ironlb:0.1.0  163.9 s'],
  [165_200, 'build-image: localhost/ironlb:0.1.0 size 530 MB (530330602 bytes)'],
].map(([t, text]) => ({ t: t as number, text: text as string }));

describe('bench image: build output', () => {
  it('times each instruction from its STEP line to the next boundary, per stage', () => {
    expect(stepTimes(log)).toEqual([
      { stage: 1, instruction: 'FROM docker.io/library/node:24-bookworm AS build', seconds: 0.2 },
      { stage: 1, instruction: 'WORKDIR /src', seconds: 0.2 },
      { stage: 1, instruction: 'RUN apt-get update -qq && apt-get install -y clang', seconds: 30.1 },
      { stage: 1, instruction: 'RUN npm ci && npm prune --omit=dev', seconds: 120.1 },
      { stage: 2, instruction: 'FROM docker.io/library/node:24-bookworm-slim', seconds: 0.1 },
      { stage: 2, instruction: 'RUN apt-get update -qq && apt-get install -y libbpf1', seconds: 10 },
      { stage: 2, instruction: 'COPY --from=build /src/dist ./dist', seconds: 2 },
    ]);
  });

  it('leaves out a last step with no boundary after it (a build cut short)', () => {
    expect(stepTimes(log.slice(0, 9)).map((s) => s.instruction)).toEqual(['FROM docker.io/library/node:24-bookworm AS build', 'WORKDIR /src', 'RUN apt-get update -qq && apt-get install -y clang']);
  });

  it('reads the script\'s own stage times, and not its other lines', () => {
    expect([...scriptStages(log)]).toEqual([
      ['tools and podman setup', 0.1],
      ['bases', 1.1],
      ['image localhost/ironlb:0.1.0', 163.9],
    ]);
  });
});
