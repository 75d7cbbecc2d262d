// `ironlb` run from src/ through tsx (no build): what unit tests start, so they never run a stale dist/.
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
