import { execFile } from 'node:child_process';
import { createConnection } from 'node:net';
import { promisify } from 'node:util';
import { waitFor } from './processes.js';
import { RedisServer } from './redis-server.js';

const run = promisify(execFile);

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
      // Not execFileSync: the seconds redis-cli waits for the nodes to agree stop no timer of the test file.
      await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
      await waitFor(async () => (await Promise.all(nodes.map((node) => clusterState(node.port)))).every((state) => state === 'ok'), 30_000, 'the Redis Cluster to be ok');
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

/** The node's cluster_state, asked over a socket (a redis-cli per poll would fork every 50 ms). */
function clusterState(port: number): Promise<string> {
  return new Promise((resolve) => {
    let reply = '';
    const socket = createConnection({ port, host: '127.0.0.1' }, () => socket.write('CLUSTER INFO\r\n'));
    const done = (state: string) => {
      socket.destroy();
      resolve(state);
    };
    socket.setEncoding('utf8');
    socket.setTimeout(2000, () => done('unknown'));
    socket.on('error', () => done('unknown'));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      const state = /cluster_state:(\w+)\r\n/.exec(reply)?.[1];
      if (state) done(state);
    });
  });
}
