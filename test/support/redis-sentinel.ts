import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitFor } from './processes.js';
import { canConnect, RedisServer } from './redis-server.js';

export const MASTER_NAME = 'cgw-primary';

export interface SentinelDeploymentOptions {
  /** `requirepass` of the sentinels (they use it with each other too). */
  sentinelPassword?: string;
  /** `requirepass` of the primary and the replica (the replica's and sentinels' auth too). */
  dataPassword?: string;
}

/** Quick failover for tests: a primary silent for this long is down. */
const DOWN_AFTER_MS = 500;
const FAILOVER_TIMEOUT_MS = 2000;

/**
 * A primary, one replica and three sentinels (quorum 2), every process on a free loopback
 * port, each sentinel with a generated config in a temporary directory.
 */
export class SentinelDeployment {
  private constructor(
    readonly primary: RedisServer,
    readonly replica: RedisServer,
    private readonly sentinels: Array<{ port: number; process: ChildProcess; dir: string }>,
    private readonly options: SentinelDeploymentOptions,
  ) {}

  static async start(options: SentinelDeploymentOptions = {}): Promise<SentinelDeployment> {
    const auth = options.dataPassword ? ['--requirepass', options.dataPassword, '--masterauth', options.dataPassword] : [];
    const primary = await RedisServer.start({ args: auth });
    const replica = await RedisServer.start({ args: ['--replicaof', '127.0.0.1', String(primary.port), ...auth] });
    const sentinels = await Promise.all([0, 1, 2].map(() => startSentinel(primary.port, options)));
    const deployment = new SentinelDeployment(primary, replica, sentinels, options);
    try {
      await deployment.waitUntilSettled();
    } catch (err) {
      await deployment.close();
      throw err;
    }
    return deployment;
  }

  /** REDIS_SENTINELS for the gateway. */
  get sentinelList(): string {
    return this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
  }

  /** The port the sentinels name as primary (the first that answers). */
  async primaryPort(): Promise<number | null> {
    for (const sentinel of this.sentinels) {
      const answer = (await ask(sentinel.port, ['SENTINEL', 'get-master-addr-by-name', MASTER_NAME], this.options.sentinelPassword)) as [string, string] | null;
      if (answer) return Number(answer[1]);
    }
    return null;
  }

  /** Whether every sentinel names `port` as the primary (not just the first that answers). */
  async everySentinelNames(port: number): Promise<boolean> {
    for (const sentinel of this.sentinels) {
      const answer = (await ask(sentinel.port, ['SENTINEL', 'get-master-addr-by-name', MASTER_NAME], this.options.sentinelPassword)) as [string, string] | null;
      if (!answer || Number(answer[1]) !== port) return false;
    }
    return true;
  }

  /**
   * Brings a killed server back as a replica of `primaryPort`, the way a node without
   * persistence must come back: restarted as a primary it would be an empty primary, and a
   * sentinel that still sees it as the master can point the promoted replica at it, which
   * then resyncs to nothing (the data loss Redis's Sentinel docs warn about).
   */
  async rejoinAsReplica(server: RedisServer, primaryPort: number): Promise<void> {
    // Not promotable while it is still empty (a stall of the primary past down-after-milliseconds
    // on a loaded machine is a failover; an empty replica promoted wipes everything too).
    await server.startProcess(['--replicaof', '127.0.0.1', String(primaryPort), '--replica-priority', '0']);
    await waitFor(() => replicaInSync(server.port, this.options.dataPassword), 15_000, 'the rejoined node in sync');
    await ask(server.port, ['CONFIG', 'SET', 'replica-priority', '100'], this.options.dataPassword);
  }

  /** Failovers so far, as the sentinels count them (the master's config epoch). */
  async failovers(): Promise<number> {
    let epoch = 0;
    for (const sentinel of this.sentinels) {
      const answer = (await ask(sentinel.port, ['SENTINEL', 'master', MASTER_NAME], this.options.sentinelPassword)) as string[] | null;
      const at = answer?.indexOf('config-epoch') ?? -1;
      if (answer && at >= 0) epoch = Math.max(epoch, Number(answer[at + 1]));
    }
    return epoch;
  }

  /** A planned failover (`SENTINEL FAILOVER`): the old primary stays up and becomes a replica. */
  async failOver(): Promise<void> {
    await ask(this.sentinels[0].port, ['SENTINEL', 'FAILOVER', MASTER_NAME], this.options.sentinelPassword);
  }

  /** Until the replica is in sync and every sentinel knows the replica and the other two sentinels. */
  private async waitUntilSettled(): Promise<void> {
    await waitFor(() => replicaInSync(this.replica.port, this.options.dataPassword), 15_000, 'the replica in sync');
    await waitFor(async () => {
      for (const sentinel of this.sentinels) {
        const answer = (await ask(sentinel.port, ['SENTINEL', 'master', MASTER_NAME], this.options.sentinelPassword)) as string[] | null;
        if (!answer) return false;
        const fields = Object.fromEntries(answer.flatMap((v, i) => (i % 2 === 0 ? [[v, answer[i + 1]]] : [])));
        if (Number(fields['num-slaves']) < 1 || Number(fields['num-other-sentinels']) < 2) return false;
      }
      return true;
    }, 20_000, 'the sentinels to know the replica and each other');
  }

  async close(): Promise<void> {
    await Promise.all(this.sentinels.map(async (sentinel) => {
      if (sentinel.process.exitCode === null && sentinel.process.signalCode === null) {
        const exited = new Promise((resolve) => sentinel.process.once('exit', resolve));
        sentinel.process.kill('SIGKILL');
        await exited;
      }
      rmSync(sentinel.dir, { recursive: true, force: true });
    }));
    await Promise.all([this.primary.close(), this.replica.close()]);
  }
}

async function startSentinel(primaryPort: number, options: SentinelDeploymentOptions): Promise<{ port: number; process: ChildProcess; dir: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cgw-sentinel-'));
  const config = join(dir, 'sentinel.conf');
  writeFileSync(config, [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
    `sentinel down-after-milliseconds ${MASTER_NAME} ${DOWN_AFTER_MS}`,
    `sentinel failover-timeout ${MASTER_NAME} ${FAILOVER_TIMEOUT_MS}`,
    `sentinel parallel-syncs ${MASTER_NAME} 1`,
    ...(options.dataPassword ? [`sentinel auth-pass ${MASTER_NAME} ${options.dataPassword}`] : []),
    ...(options.sentinelPassword ? [`requirepass ${options.sentinelPassword}`, `sentinel sentinel-pass ${options.sentinelPassword}`] : []),
    '',
  ].join('\n'));
  const child = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' });
  await waitFor(() => canConnect(port), 10_000, `sentinel on ${port}`);
  return { port, process: child, dir };
}

/** One command to one server, null when it does not answer. */
export async function ask(port: number, command: string[], password?: string): Promise<unknown> {
  const client = new Redis({ port, host: '127.0.0.1', password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, commandTimeout: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(command[0], ...command.slice(1));
  } catch {
    return null;
  } finally {
    client.disconnect();
  }
}

/** Whether the redis-server on `port` is a replica with its link to the primary up. */
export async function replicaInSync(port: number, password?: string): Promise<boolean> {
  return String((await ask(port, ['INFO', 'replication'], password)) ?? '').includes('master_link_status:up');
}
