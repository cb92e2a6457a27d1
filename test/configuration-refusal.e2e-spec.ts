import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';

const MAIN = resolve('dist/main.js');

/** Runs the built service as operators do (outside the repo, so no .env applies) until it exits. */
async function refusedStart(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH, WEBSOCKET_HOST: '127.0.0.1', WEBSOCKET_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('a production start that refuses its configuration', () => {
  it('writes one JSON line naming each bad variable, no stack trace, and exits non-zero', async () => {
    const { code, stdout, stderr } = await refusedStart({
      NODE_ENV: 'production',
      AUTH_MODE: 'jwt',
      JWT_SECRET: 'too-short-secret',
      API_KEYS: 'a-key',
      LOG_LEVEL: 'chatty',
      WEBSOCKET_PING_INTERVAL: 'soon',
    });
    expect(code).toBe(1);
    expect(stderr).toBe('');
    const lines = stdout.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]);
    expect(entry).toMatchObject({ level: 'error', context: 'Bootstrap' });
    expect(Object.keys(entry.invalid).sort()).toEqual(['JWT_SECRET', 'LOG_LEVEL', 'WEBSOCKET_PING_INTERVAL']);
    expect(entry.msg).toMatch(/^Invalid configuration: /);
    expect(entry.msg).toContain('LOG_LEVEL="chatty"');
    expect(entry.msg).toContain('WEBSOCKET_PING_INTERVAL="soon"');
    // A secret's value is never shown, not even a wrong one.
    expect(entry.msg).toContain('JWT_SECRET=(hidden)');
    expect(stdout).not.toContain('too-short-secret');
    expect(stdout).not.toMatch(/\x1b\[|\n\s+at /);
  });

  it('names the variables production cannot run without, on one line', async () => {
    const { code, stdout, stderr } = await refusedStart({ NODE_ENV: 'production' });
    expect(code).toBe(1);
    expect(stderr).toBe('');
    const lines = stdout.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]);
    expect(entry.level).toBe('error');
    expect(Object.keys(entry.invalid).sort()).toEqual(['API_KEYS', 'AUTH_MODE']);
    expect(entry.msg).toMatch(/^Invalid configuration: AUTH_MODE: .* \| API_KEYS: /);
  });
  it('refuses production with callback URLs allowed and no webhook secret', async () => {
    const { code, stdout } = await refusedStart({
      NODE_ENV: 'production',
      AUTH_MODE: 'jwt',
      JWT_SECRET: 'a-secret-of-at-least-thirty-two-characters',
      API_KEYS: 'a-key',
      WEBHOOKS_ENABLED: 'true',
    });
    expect(code).toBe(1);
    const entry = JSON.parse(stdout.split('\n').filter((line) => line !== '')[0]);
    expect(Object.keys(entry.invalid)).toEqual(['WEBHOOK_SECRETS']);
    expect(entry.msg).toContain('production signs every webhook');
  });

  it('with ACTION_LINKS_ENABLED=true, names LINK_SIGNING_SECRET and PUBLIC_BASE_URL', async () => {
    const { code, stdout } = await refusedStart({
      NODE_ENV: 'production',
      AUTH_MODE: 'jwt',
      JWT_SECRET: 'a-jwt-secret-of-at-least-32-characters!!',
      API_KEYS: 'a-key',
      ACTION_LINKS_ENABLED: 'true',
    });
    expect(code).toBe(1);
    const entry = JSON.parse(stdout.split('\n').filter((line) => line !== '')[0]);
    expect(Object.keys(entry.invalid).sort()).toEqual(['LINK_SIGNING_SECRET', 'PUBLIC_BASE_URL']);
  });
});
