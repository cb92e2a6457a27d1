import { execFileSync } from 'node:child_process';
import { waitFor } from './processes.js';
import { RedisServer } from './redis-server.js';

/** A three-master Redis Cluster of real redis-server processes, made with redis-cli --cluster create. */
export class RedisClusterServers {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(size = 3): Promise<RedisClusterServers> {
    const nodes = await Promise.all(
      Array.from({ length: size }, () => RedisServer.start({ args: ['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000'] })),
    );
    const servers = new RedisClusterServers(nodes);
    try {
      const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
      execFileSync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore', timeout: 30_000 });
      await waitFor(() => nodes.every((node) => clusterState(node.port) === 'ok'), 30_000, 'the Redis Cluster to be ok');
    } catch (err) {
      await servers.close();
      throw err;
    }
    return servers;
  }

  /** One node's URL: the client discovers the others. */
  get url(): string {
    return this.nodes[0].url.replace(/\/0$/, '');
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.close()));
  }
}

function clusterState(port: number): string {
  const info = execFileSync('redis-cli', ['-p', String(port), 'cluster', 'info'], { encoding: 'utf8' });
  return /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
}
