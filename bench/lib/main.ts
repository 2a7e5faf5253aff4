/** A benchmark's process: how it ends, and what an interrupt does. */

/** On SIGINT or SIGTERM: says so, runs `cleanup`, and exits 130. */
export function onInterrupt(cleanup: () => Promise<void>): void {
  const onSignal = () => {
    process.stdout.write('\ninterrupted: cleaning up\n');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

/** Runs `main` and exits: 0 when it returns, 1 with its error on stderr. */
export function runBench(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
