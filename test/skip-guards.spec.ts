import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { countsAsCi } from './support/system-dependency.js';

/**
 * A suite whose system dependency is missing skips loudly on a laptop and fails under CI.
 * Pipelines set CI to `true`, `1` or `yes`; each must count, or the pipeline goes green
 * having run nothing.
 */
const TRUTHY = ['true', '1', 'yes', 'TRUE', ' true '];
const FALSY = [undefined, '', '0', 'false', 'FALSE'];

describe('the CI check of the skip guards', () => {
  it.each(TRUTHY)('the Jest suites count CI=%j as CI', (value) => {
    expect(countsAsCi(value)).toBe(true);
  });

  it.each(FALSY)('the Jest suites do not count CI=%j as CI', (value) => {
    expect(countsAsCi(value)).toBe(false);
  });

  it('the Python client tests runner (clients/python/run-tests.sh) agrees for every value', () => {
    const script = readFileSync('clients/python/run-tests.sh', 'utf8');
    const definition = /^under_ci\(\) \{\n[\s\S]*?^\}$/m.exec(script)?.[0];
    expect(definition).toBeDefined();
    expect(script).toMatch(/^\s*if under_ci; then$/m);
    const verdict = (value: string | undefined) => {
      const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
      if (value !== undefined) env.CI = value;
      return spawnSync('bash', ['-c', `${definition}\nunder_ci`], { env }).status === 0;
    };
    for (const value of TRUTHY) expect([value, verdict(value)]).toEqual([value, true]);
    for (const value of FALSY) expect([value, verdict(value)]).toEqual([value, false]);
  });
});
