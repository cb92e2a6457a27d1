// The Redis a cluster session runs on: a fresh redis-server per session on a free port,
// no persistence, its CPU read from /proc like the servers' and its command counts from
// INFO commandstats.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Redis } from 'ioredis';
import { exited, track } from './children.js';
import { cpuSeconds, rssBytes } from './proc.js';
import { sleep, withTimeout } from './stats.js';

export async function startRedis({ port, logPath }) {
  const log = openSync(logPath, 'w');
  const child = track(
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()], {
      stdio: ['ignore', log, log],
    }),
  );
  closeSync(log);
  child.once('error', () => {}); // reported below as "did not answer"
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`redis-server on ${port} did not answer (is redis-server installed? apt-get install redis-server); see ${logPath}`);
    }
    await sleep(50);
  }
  const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  client.on('error', (err) => console.error(`bench: redis-server on ${port}: ${err.message}`));
  return new RunningRedis(child, client, port);
}

class RunningRedis {
  constructor(child, client, port) {
    Object.assign(this, { child, client, port });
    this.pid = child.pid;
    this.url = `redis://127.0.0.1:${port}/0`;
  }

  alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  cpuSeconds() {
    return cpuSeconds(this.pid);
  }

  rss() {
    return rssBytes(this.pid);
  }

  /**
   * Calls per command since the server started (INFO commandstats), without the harness's
   * own INFO calls, and under `usec` the microseconds Redis spent in each command (a
   * script's time counts under EVALSHA, not under the commands it runs).
   */
  async commandCalls() {
    const text = await this.client.info('commandstats');
    const calls = {};
    const usec = {};
    for (const [, name, count, spent] of text.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm)) {
      if (name === 'info') continue;
      calls[name] = Number(count);
      usec[name] = Number(spent);
    }
    Object.defineProperty(calls, 'usec', { value: usec, enumerable: false });
    return calls;
  }

  async stop() {
    this.client.disconnect();
    if (!this.alive()) return;
    this.child.kill('SIGTERM');
    await withTimeout(exited(this.child), 5_000, 'redis-server shutdown').catch(() => {
      this.child.kill('SIGKILL');
      return exited(this.child);
    });
  }
}

/** Calls per command between two commandCalls() readings, their total, and the time (µs) Redis reports for them. */
export function commandDelta(before, after) {
  const perCommand = {};
  for (const [name, count] of Object.entries(after)) {
    const delta = count - (before[name] ?? 0);
    if (delta > 0) perCommand[name] = delta;
  }
  const total = Object.values(perCommand).reduce((sum, n) => sum + n, 0);
  // A script's usec includes the commands it calls, which Redis also counts on their own:
  // summing both would count them twice. `usec` is every command once (wherever called),
  // `scriptUsec` the scripts' own (their commands included).
  let usec = 0;
  let scriptUsec = 0;
  for (const [name, spent] of Object.entries(after.usec ?? {})) {
    const delta = spent - (before.usec?.[name] ?? 0);
    if (/^(eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro)$/.test(name)) scriptUsec += delta;
    else usec += delta;
  }
  return { total, perCommand, usec, scriptUsec };
}

export const redisLogPath = (logDir, name, tag) => join(logDir, `${name}-${tag}-redis.log`);

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
