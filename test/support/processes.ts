import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request, HttpResult } from './test-app.js';
import { TestClient } from './test-client.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Ports already handed out by this process: the kernel may offer a just-released one again. */
const handedOut = new Set<number>();

/** A port nobody listens on right now (the kernel's choice, released at once), never the same twice. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await kernelChosenPort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

function kernelChosenPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The built service (dist/main.js) in a child process on a fixed loopback port, so a test
 * can kill it with SIGKILL and start it again on the same port.
 */
export class ServiceInstance {
  private child?: ChildProcess;
  output = '';
  readonly clients: TestClient[] = [];

  private constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  static async start(env: Record<string, string>, port?: number): Promise<ServiceInstance> {
    const instance = new ServiceInstance(port ?? (await freePort()), env);
    try {
      await instance.startProcess();
    } catch (err) {
      await instance.stop();
      throw err;
    }
    return instance;
  }

  /** The running process's id (to tell which instance holds a connection). */
  get pid(): number | undefined {
    const child = this.child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async startProcess(): Promise<void> {
    this.output = '';
    this.child = spawn(process.execPath, [join(ROOT, 'dist', 'main.js')], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        LOG_LEVEL: 'warn',
        WEBSOCKET_HOST: '127.0.0.1',
        ...this.env,
        WEBSOCKET_PORT: String(this.port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    try {
      await waitFor(async () => {
        if (this.child?.exitCode !== null) throw new Error(`instance exited: ${this.output}`);
        return (await this.isLive()) === true;
      }, 90_000, `instance on ${this.port}`);
    } catch (err) {
      throw new Error(`${(err as Error).message}; its output: ${this.output.slice(-2000)}`);
    }
  }

  /** One liveness probe that cannot hang (a busy machine may accept and not answer). */
  private async isLive(): Promise<boolean> {
    try {
      const response = await fetch(`${this.baseUrl}/health/live`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false;
    }
  }

  http(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult> {
    return request(this.baseUrl, method, path, body, headers);
  }

  async connect(userId?: string): Promise<TestClient> {
    const query = userId === undefined ? '' : `?user_id=${encodeURIComponent(userId)}`;
    const client = await TestClient.open(`${this.wsUrl}/${query}`);
    this.clients.push(client);
    await client.next('connected');
    return client;
  }

  /** Stops the process: SIGKILL (a crash) by default, SIGTERM for a rolling deploy. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    for (const client of this.clients.splice(0)) client.terminate();
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}
