import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Whether a system program the suite needs is installed. Under CI a missing one fails
 * the suite (CI installs it); elsewhere the suite is skipped with a loud note.
 */
export function requireProgram(program: string, debianPackage: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return reportMissing(program, debianPackage);
  }
}

/**
 * The path of a system program, looked up on PATH and then in `extraDirs` (Debian puts
 * nginx in /usr/sbin, which is not on a non-root user's PATH). Missing: as requireProgram.
 */
export function locateProgram(program: string, debianPackage: string, extraDirs: string[] = []): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  reportMissing(program, debianPackage);
  return null;
}

/**
 * Whether this run is a CI run. Pipelines set CI to all sorts of truthy values (`true`,
 * `1`, `yes`); only unset, empty, `0` and `false` mean "not CI", so a missing dependency
 * can never turn a pipeline's run into a green skip.
 */
export function underCi(): boolean {
  return countsAsCi(process.env.CI);
}

/** Whether a value of CI means a CI run (a parameter default would read an explicit undefined as the environment's). */
export function countsAsCi(value: string | undefined): boolean {
  return !['', '0', 'false'].includes((value ?? '').trim().toLowerCase());
}

function reportMissing(program: string, debianPackage: string): false {
  const message = `${program} is not installed: apt-get install ${debianPackage}`;
  if (underCi()) throw new Error(`${message} (required under CI)`);
  process.stderr.write(`\n*** SKIPPING: ${message} ***\n\n`);
  return false;
}
