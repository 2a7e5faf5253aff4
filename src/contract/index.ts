/**
 * The contract between the client (CLI, library), the workflows and the activities: workflow
 * and activity inputs and results, the names of workflows, messages and search attributes,
 * and the one reader of how a run ended. Both sides import it; it is pure (no I/O, no Node
 * built-ins, no pg), since whatever it imports ends up in the workflow sandbox.
 *
 * migration.ts, revert.ts, release.ts, rehearse.ts: plain data and names, free of SDK imports
 * (the CLI's apply path loads them without the SDK). messages.ts and the *-messages.ts files:
 * the same names as the SDK's typed queries, signals, updates and search attribute keys.
 */
export * from './migration';
export * from './revert';
export * from './release';
export * from './rehearse';
export * from './messages';
export * from './revert-messages';
export * from './release-messages';
export * from './outcome';
