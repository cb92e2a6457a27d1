import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const GENERATOR = resolve('clients/js/scripts/generate-protocol.mjs');

function check(protocolDir?: string) {
  const args = [GENERATOR, '--check', ...(protocolDir ? ['--protocol-dir', protocolDir] : [])];
  return spawnSync(process.execPath, args, { encoding: 'utf8' });
}

/** A copy of src/protocol/ with one edit, to show the check catches a one-sided change. */
function editedProtocol(file: string, edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'protocol-'));
  cpSync(resolve('src/protocol'), dir, { recursive: true });
  const path = join(dir, file);
  const before = readFileSync(path, 'utf8');
  const after = edit(before);
  expect(after).not.toBe(before);
  writeFileSync(path, after);
  return dir;
}

describe('the SDK protocol types (clients/js/src/protocol.ts)', () => {
  it('are exactly what src/protocol/ generates', () => {
    const result = check();
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it.each([
    ['a field added to a server frame', 'server-frames.ts', (s: string) => s.replace("type: 'heartbeat';", "type: 'heartbeat';\n  sequence: number;")],
    ['a new server frame type', 'server-frames.ts', (s: string) => s.replace('  error: ErrorFrame;\n}', "  error: ErrorFrame;\n  resumed: { type: 'resumed' };\n}")],
    ['a field added to a client frame', 'client-frames.ts', (s: string) => s.replace('  feedback?: string;', '  feedback?: string;\n\n  @IsOptional()\n  @IsString()\n  reason?: string;')],
    ['a new error code', 'error-code.enum.ts', (s: string) => s.replace("InternalError = 'internal_error',", "InternalError = 'internal_error',\n  Gone = 'gone',")],
    ['a new close code', 'close-code.enum.ts', (s: string) => s.replace('ReplacedByNewerConnection = 4008,', 'ReplacedByNewerConnection = 4008,\n  Resume = 4009,')],
  ])('fail the check after %s on the server side only', (_what, file, edit) => {
    const dir = editedProtocol(file, edit);
    try {
      const result = check(dir);
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/run `npm run protocol` in clients\/js/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
