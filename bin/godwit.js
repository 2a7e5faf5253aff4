#!/usr/bin/env node
// Godwit is written in TypeScript and run through tsx, so `npx godwit` works
// straight after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main();
