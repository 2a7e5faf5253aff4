import { inject, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/process';

// The README's first command, as a newcomer runs it (against the suite's dev server).
describe('godwit demo', () => {
  it('applies three migrations, rolls the fourth back with equal fingerprints, and exits 0', async () => {
    const { code, output } = await runCli(['demo', '--exit'], {
      ...process.env,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      GODWIT_UI_URL: inject('temporalUiUrl'),
      GODWIT_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      NO_COLOR: '1',
    });
    expect(code, output).toBe(0);
    for (const id of ['0001_users_email_norm', '0002_orders', '0003_rename_name']) expect(output).toContain(`${id} applied`);
    expect(output).toMatch(/0004_unique_display_names rolled_back: step 2 \(create_index users_display_name_key on users\) failed/);
    const [before, after] = [...output.matchAll(/schema fingerprint (?:before|after): +(sha256:\w+)/g)].map((m) => m[1]);
    expect(before).toBeDefined();
    expect(after).toBe(before);
    expect(output).toMatch(/\/namespaces\/default\/workflows\/godwit%2Fdemo%2F0004_unique_display_names\//);
  });
});
