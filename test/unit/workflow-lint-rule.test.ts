import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function lintAs(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}/${filePath}` });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('the lint rule that keeps workflow code deterministic', () => {
  it.each([
    ["import pg from 'pg';\nexport const x = pg;\n"],
    ["import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n"],
    ["import { createHash } from 'crypto';\nexport const x = createHash;\n"],
    ["import { Context } from '@temporalio/activity';\nexport const x = Context;\n"],
  ])('rejects %j in workflows/', async (code) => {
    const messages = await lintAs('workflows/probe.ts', code);
    expect(messages.some((m) => m.startsWith('no-restricted-imports'))).toBe(true);
  });

  it('allows the same import outside workflows/', async () => {
    expect(await lintAs('activities/probe.ts', "import pg from 'pg';\nexport const x = pg;\n")).toEqual([]);
  });

  it('allows the workflow SDK in workflows/', async () => {
    expect(await lintAs('workflows/probe.ts', "import { sleep } from '@temporalio/workflow';\nexport const x = sleep;\n")).toEqual([]);
  });
});
