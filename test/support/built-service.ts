import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';

const MAIN = resolve('dist/main.js');

export interface BuiltService {
  child: ChildProcess;
  baseUrl: string;
  wsUrl: string;
  /** Everything the process wrote to stdout so far. */
  stdout(): string;
  /** Sends SIGTERM and waits for the process to exit. */
  stop(): Promise<void>;
}

/**
 * Starts the production build (`node dist/main.js`) as operators run it, on a free
 * loopback port, outside the repo (so a developer's .env cannot change it).
 */
export async function startBuiltService(env: Record<string, string>): Promise<BuiltService> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: npm test builds it first`);
  const child = spawn(process.execPath, [MAIN], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH, WEBSOCKET_HOST: '127.0.0.1', WEBSOCKET_PORT: '0', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const match = /listening on 127\.0\.0\.1:(\d+)/.exec(stdout);
    if (match) {
      const baseUrl = `http://127.0.0.1:${match[1]}`;
      return {
        child,
        baseUrl,
        wsUrl: baseUrl.replace('http', 'ws'),
        stdout: () => stdout,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          await exited;
        },
      };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`service did not start:\n${stdout}\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
