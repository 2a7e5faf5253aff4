// `npm run dev -- <command> ...`: the CLI from the TypeScript sources through tsx, for
// development (no build, slower to start). bin/godwit.js runs the compiled dist/cli.
import { main } from './main';

await main();
