// The driver's side of a load generator process (bench/load/worker.js).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exited, track } from './children.js';
import { withTimeout } from './stats.js';

const WORKER_SCRIPT = fileURLToPath(new URL('../load/worker.js', import.meta.url));

export class LoadWorker {
  #child;
  #nextId = 1;
  #pending = new Map();
  #listeners = new Set();

  /** `script`: the load process to fork (bench/load/worker.js unless another is named). */
  constructor(name, script = WORKER_SCRIPT) {
    this.name = name;
    this.#child = track(fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' }));
    this.pid = this.#child.pid;
    this.#child.on('message', (message) => this.#receive(message));
    this.#child.once('exit', (code, signal) => {
      for (const { reject } of this.#pending.values()) reject(new Error(`load generator ${name} exited (${signal ?? code})`));
      this.#pending.clear();
    });
  }

  /** Runs a worker command; rejects on its error, its exit, or after timeoutMs. */
  call(cmd, args, timeoutMs) {
    const id = this.#nextId++;
    const reply = new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#child.send({ id, cmd, args });
    return withTimeout(reply, timeoutMs, `${this.name}.${cmd}`).finally(() => this.#pending.delete(id));
  }

  /** Subscribes to the worker's unsolicited events; returns the unsubscribe function. */
  onEvent(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async stop() {
    if (this.#child.connected) {
      await this.call('closeAll', {}, 10_000).catch(() => {});
      this.#child.disconnect();
    }
    await withTimeout(exited(this.#child), 5_000, `${this.name} exit`).catch(() => this.#child.kill('SIGKILL'));
  }

  #receive(message) {
    if (message.event) {
      for (const listener of this.#listeners) listener(message);
      return;
    }
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    if (message.ok) pending.resolve(message.result);
    else pending.reject(new Error(`${this.name}: ${message.error}`));
  }
}

export function startWorkers(count, prefix) {
  return Array.from({ length: count }, (_, i) => new LoadWorker(`${prefix}-load${i}`));
}

export async function stopWorkers(workers) {
  await Promise.all(workers.map((w) => w.stop()));
}
