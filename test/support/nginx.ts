import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNginxConf, nginxUpstreamServers } from './deployment.js';
import { freePort, waitFor } from './processes.js';
import { canConnect } from './redis-server.js';

/**
 * deploy/nginx/gateway.conf made runnable on loopback: the upstream's servers become the
 * given ports, `listen` the given port and the access log a file (a test runner's stdout
 * is a socket, which nginx cannot open as /dev/stdout); every other line is the file's own. Throws when
 * the file no longer has what is replaced, so the test cannot drift from the deployment.
 */
export function localGatewayConf(upstreamPorts: number[], listenPort: number, accessLog: string): string {
  const conf = readNginxConf();
  const servers = nginxUpstreamServers(conf);
  if (servers.length !== upstreamPorts.length) {
    throw new Error(`deploy/nginx/gateway.conf has ${servers.length} upstream servers, the test started ${upstreamPorts.length}`);
  }
  let next = 0;
  const upstreamsReplaced = conf.replace(/^(\s*server\s+)[^:\s;]+:\d+/gm, (_line, prefix: string) => `${prefix}127.0.0.1:${upstreamPorts[next++]}`);
  const listens = upstreamsReplaced.match(/^\s*listen\s+\d+;/gm) ?? [];
  if (listens.length !== 1) throw new Error('deploy/nginx/gateway.conf must have exactly one `listen <port>;`');
  const logs = upstreamsReplaced.match(/^\s*access_log\s+\S+\s+gateway;/gm) ?? [];
  if (logs.length !== 1) throw new Error('deploy/nginx/gateway.conf must have exactly one `access_log <path> gateway;`');
  return upstreamsReplaced
    .replace(/^(\s*listen\s+)\d+;/m, `$1127.0.0.1:${listenPort};`)
    .replace(/^(\s*access_log\s+)\S+(\s+gateway;)/m, `$1${accessLog}$2`);
}

/**
 * A real nginx in the foreground, unprivileged where it can be: configuration, pid file and
 * temporary files and access log in a fresh directory, errors on stderr.
 */
export class NginxServer {
  output = '';
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(binary: string, upstreamPorts: number[]): Promise<NginxServer> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'cgw-nginx-'));
    // Run as root (as CI is), nginx's workers drop to an unprivileged user that must reach
    // the temporary directories nginx creates in here.
    chmodSync(dir, 0o755);
    const confPath = join(dir, 'nginx.conf');
    writeFileSync(confPath, mainConf(dir, localGatewayConf(upstreamPorts, port, join(dir, 'access.log'))));
    const child = spawn(binary, ['-p', dir, '-e', 'stderr', '-c', confPath, '-g', `daemon off; pid ${join(dir, 'nginx.pid')}; error_log stderr;`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new NginxServer(child, port, dir);
    child.stdout?.on('data', (chunk: Buffer) => (server.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (server.output += chunk.toString()));
    await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${server.output}`);
      return canConnect(port);
    }, 10_000, `nginx on ${port}`);
    return server;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** The access log (the deployment's `gateway` format) written so far. */
  accessLog(): string {
    return existsSync(join(this.dir, 'access.log')) ? readFileSync(join(this.dir, 'access.log'), 'utf8') : '';
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM'); // fast shutdown: open WebSocket connections are cut
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function mainConf(dir: string, gatewayConf: string): string {
  return `worker_processes 1;
events { worker_connections 1024; }
http {
    client_body_temp_path ${join(dir, 'client_body')};
    proxy_temp_path ${join(dir, 'proxy')};
    fastcgi_temp_path ${join(dir, 'fastcgi')};
    uwsgi_temp_path ${join(dir, 'uwsgi')};
    scgi_temp_path ${join(dir, 'scgi')};

${gatewayConf}
}
`;
}
