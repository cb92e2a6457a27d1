import { execFileSync } from 'node:child_process';

/**
 * Whether a system program the suite needs is installed. Under CI a missing one fails
 * the suite (CI installs it); elsewhere the suite is skipped with a loud note.
 */
export function requireProgram(program: string, debianPackage: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    const message = `${program} is not installed: apt-get install ${debianPackage}`;
    if (process.env.CI === 'true') throw new Error(`${message} (required under CI)`);
    process.stderr.write(`\n*** SKIPPING: ${message} ***\n\n`);
    return false;
  }
}
