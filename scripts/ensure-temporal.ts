// Finds the Temporal CLI (PATH, then .godwit/bin) or builds the pinned one with Go.
// CI runs this before the tests so the first-time build is visible and outside test hooks.
import { ensureTemporalCli } from '../src/devserver';

if (process.env.TEMPORAL_ADDRESS) {
  console.log(`TEMPORAL_ADDRESS=${process.env.TEMPORAL_ADDRESS}: using that server, no CLI needed`);
} else {
  const cli = await ensureTemporalCli({ onNote: (line) => console.log(line) });
  console.log(`Temporal CLI: ${cli.path} (${cli.source})`);
}
