import { allocatorSuite } from './allocator.js';
import { announcerSuite } from './announcer.js';
import { controllerSuite } from './controller.js';
import { electionSuite } from './election.js';
import { imageSuite } from './image.js';
import { layer2Suite } from './layer2.js';
import { loadSuite } from './load.js';
import { probeSuite } from './probe.js';
import { scaleRealSuite, scaleSuite } from './scale.js';
import { speakerSuite } from './speaker.js';
import type { BenchSuite } from './types.js';

/** Every benchmark suite `npm run bench` knows; each lives in its own file in bench/. */
export const suites: readonly BenchSuite[] = [allocatorSuite, layer2Suite, announcerSuite, controllerSuite, speakerSuite, probeSuite, loadSuite, imageSuite, scaleSuite, scaleRealSuite, electionSuite];
