// The servers under test and how to start, watch and stop them.
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exited, track } from './children.js';
import { getJson } from './http.js';
import { memoryAfterGc } from './inspector.js';
import { cpuSeconds, rssBytes } from './proc.js';
import { sleep, withTimeout } from './stats.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The REST key of this run; every request carries it, the comparison servers ignore it. */
const API_KEY = randomBytes(16).toString('hex');
export const AUTH_HEADERS = { authorization: `Bearer ${API_KEY}` };

export const SERVERS = {
  // Our service exactly as users run it: the production build, configured by env only.
  gateway: {
    label: 'gateway',
    // BENCH_GATEWAY_DIST: another build's dist folder (e.g. an older commit's, for pairs).
    script: process.env.BENCH_GATEWAY_DIST ? join(resolve(process.env.BENCH_GATEWAY_DIST), 'main.js') : 'dist/main.js',
    nodeArgs: [],
    client: 'ws',
    memory: 'inspector',
    env: {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      API_KEYS: API_KEY,
      // The comparison servers trust ?user_id= too; token checks are not what is compared.
      AUTH_MODE: 'none',
      ALLOW_INSECURE_AUTH_NONE: 'true',
      WEBSOCKET_MAX_CONNECTIONS: '60000',
      // One bench client confirms hundreds of times a second, no human does: the
      // per-connection frame limit would measure itself, not the gateway.
      WEBSOCKET_RATE_LIMIT: '1000000',
      WEBSOCKET_RATE_BURST: '1000000',
      // The load generators open connections as fast as they can without retrying a 1013:
      // the storm guard would refuse part of a 50,000-connection ramp. --storm sets its own.
      WEBSOCKET_MAX_CONCURRENT_HANDSHAKES: '1000000',
      // Likewise the cap on connections holding no complete request (256): a handshake in
      // flight is one, and 50,000 clients ramp with up to a thousand in flight.
      HTTP_MAX_PENDING_CONNECTIONS: '1000000',
    },
  },
  'nest-floor': { label: 'Nest floor', script: 'bench/servers/nest-floor.js', nodeArgs: ['--expose-gc'], client: 'ws', memory: 'endpoint', env: {} },
  'raw-ws': { label: 'raw ws', script: 'bench/servers/raw-ws.js', nodeArgs: ['--expose-gc'], client: 'ws', memory: 'endpoint', env: {} },
  socketio: { label: 'Socket.IO', script: 'bench/servers/socketio.js', nodeArgs: ['--expose-gc'], client: 'socketio', memory: 'endpoint', env: {} },
  'socketio-express': { label: 'Socket.IO + Express', script: 'bench/servers/socketio-express.js', nodeArgs: ['--expose-gc'], client: 'socketio', memory: 'endpoint', env: {} },
};

/**
 * A comparison server by its name (`nest-floor`), or another build of the gateway by its
 * dist directory, registered as `gateway-<directory>` (bench/ab.js, bench/profile.js).
 */
export function serverNamed(nameOrDist) {
  if (SERVERS[nameOrDist]) return nameOrDist;
  const name = `gateway-${basename(resolve(nameOrDist))}`;
  SERVERS[name] = { ...SERVERS.gateway, script: resolve(nameOrDist, 'main.js') };
  return name;
}

export const HOST = '127.0.0.1';

/**
 * Starts one server process. `extraEnv` is added to its environment (cluster runs pass
 * REDIS_URL); with `inspectPort` (a free port by default for servers measured through
 * the inspector) a later SIGUSR1 opens the inspector there instead of on
 * 9229 (NODE_OPTIONS, so the start command itself stays `node dist/main.js`).
 */
export async function startServer(name, { logDir, tag, extraEnv = {}, inspectPort: requestedInspectPort }) {
  const def = SERVERS[name];
  // A port of its own even alone: another gateway on this machine may hold 9229, and its
  // heap would then be read (and collected) in place of this one's.
  const inspectPort = requestedInspectPort ?? (def.memory === 'inspector' ? await freePort() : undefined);
  if (!existsSync(resolve(ROOT, def.script))) throw new Error(`${def.script} is missing (run npm run build)`);
  const port = await freePort();
  mkdirSync(logDir, { recursive: true });
  const logPath = join(logDir, `${name}-${tag}.log`);
  const log = openSync(logPath, 'w');
  const nodeOptions = inspectPort ? { NODE_OPTIONS: [process.env.NODE_OPTIONS, `--inspect-port=${HOST}:${inspectPort}`].filter(Boolean).join(' ') } : {};
  const child = track(
    // Started outside the repo so a developer's .env cannot change what is measured.
    spawn(process.execPath, [...def.nodeArgs, resolve(ROOT, def.script)], {
      cwd: tmpdir(),
      env: { ...process.env, ...def.env, ...extraEnv, ...nodeOptions, WEBSOCKET_HOST: HOST, WEBSOCKET_PORT: String(port) },
      stdio: ['ignore', log, log],
    }),
  );
  closeSync(log);
  const server = new RunningServer(name, def, child, `http://${HOST}:${port}`, logPath, inspectPort);
  try {
    await server.waitHealthy(30_000);
  } catch (err) {
    await server.stop();
    throw new Error(`${name} did not become healthy: ${err.message}\n${server.logTail()}`);
  }
  return server;
}

class RunningServer {
  constructor(name, def, child, baseUrl, logPath, inspectPort) {
    Object.assign(this, { name, def, child, baseUrl, logPath, inspectPort });
    this.pid = child.pid;
    this.baseUrls = [baseUrl];
    this.instances = [this];
  }

  async waitHealthy(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.alive()) throw new Error(`exited with ${this.child.signalCode ?? this.child.exitCode}`);
      const res = await getJson(`${this.baseUrl}/health`, { timeoutMs: 1_000 }).catch(() => undefined);
      if (res?.status === 200) return;
      await sleep(100);
    }
    throw new Error(`GET /health not 200 within ${timeoutMs} ms`);
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

  /** File descriptors the server holds open (sockets, files, pipes). */
  openFds() {
    return readdirSync(`/proc/${this.pid}/fd`).length;
  }

  /** { rss, heapUsed, afterGc }: the heap after a full collection whenever the server allows one. */
  async memory() {
    if (this.def.memory === 'endpoint') {
      const { body } = await getJson(`${this.baseUrl}/__bench/mem`, { headers: AUTH_HEADERS });
      return { rss: rssBytes(this.pid), heapUsed: body.heapUsed, afterGc: body.gc === true };
    }
    try {
      const usage = await memoryAfterGc(this.pid, this.def.script, this.inspectPort);
      return { rss: rssBytes(this.pid), heapUsed: usage.heapUsed, afterGc: true, activeResources: usage.activeResources };
    } catch (err) {
      // Without the inspector the heap figure is whatever V8 holds right now.
      console.error(`bench: ${this.name}: no forced GC (${err.message}); using /metrics`);
      const { body } = await getJson(`${this.baseUrl}/metrics`, { headers: AUTH_HEADERS });
      const heap = Number(String(body).match(/^nodejs_heap_size_used_bytes (\S+)/m)?.[1]);
      return { rss: rssBytes(this.pid), heapUsed: heap, afterGc: false };
    }
  }

  /** SIGTERM, then SIGKILL if the server is still there after a grace period. */
  async stop(graceMs = 5_000) {
    if (!this.alive()) return;
    this.child.kill('SIGTERM');
    await withTimeout(exited(this.child), graceMs, `${this.name} shutdown`).catch(() => {
      this.child.kill('SIGKILL');
      return exited(this.child);
    });
  }

  logTail(lines = 20) {
    try {
      return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
