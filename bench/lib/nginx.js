// deploy/nginx/gateway.conf in a real nginx on loopback, in front of a cluster session's
// instances: the upstream servers become the instances' ports, `listen` a free port, the access
// log a file; every other line is the deployment's own (as test/support/nginx.ts does for tests).
import { spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, track } from './children.js';
import { freePort, ROOT } from './servers.js';
import { sleep } from './stats.js';

export function findNginx() {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin']) {
    try {
      accessSync(join(dir, 'nginx'), constants.X_OK);
      return join(dir, 'nginx');
    } catch {
      // not here
    }
  }
  throw new Error('nginx is not installed (apt-get install nginx)');
}

/**
 * `workers` nginx worker processes of `workerConnections` each (client and upstream sides
 * both count); with several, the port is opened with `reuseport` so the kernel spreads new
 * connections over them evenly.
 */
export async function startNginx(upstreamPorts, { workerConnections = 4096, workers = 1 } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cgw-bench-nginx-'));
  chmodSync(dir, 0o755);
  let next = 0;
  const gateway = readFileSync(join(ROOT, 'deploy', 'nginx', 'gateway.conf'), 'utf8')
    .replace(/^(\s*server\s+)[^:\s;]+:\d+/gm, (_line, prefix) => `${prefix}127.0.0.1:${upstreamPorts[next++]}`)
    .replace(/^(\s*listen\s+)\d+;/m, `$1127.0.0.1:${port}${workers > 1 ? ' reuseport' : ''};`)
    .replace(/^(\s*access_log\s+)\S+(\s+gateway;)/m, `$1${join(dir, 'access.log')}$2`);
  if (next !== upstreamPorts.length) throw new Error(`deploy/nginx/gateway.conf has ${next} upstream servers, not ${upstreamPorts.length}`);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((name) => `    ${name}_temp_path ${join(dir, name)};`).join('\n');
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, `worker_processes ${workers};\nworker_rlimit_nofile ${workerConnections + 64};\nevents { worker_connections ${workerConnections}; }\nhttp {\n${temp}\n${gateway}\n}\n`);
  const child = track(spawn(findNginx(), ['-p', dir, '-e', 'stderr', '-c', conf, '-g', `daemon off; pid ${join(dir, 'nginx.pid')}; error_log stderr;`], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let errors = '';
  child.stderr.on('data', (chunk) => (errors = (errors + chunk).slice(-4000)));
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start: ${errors}`);
    await sleep(50);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    pid: child.pid,
    /** The master's and its workers' pids. */
    pids: () => [child.pid, ...childPids(child.pid)],
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited(child);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
