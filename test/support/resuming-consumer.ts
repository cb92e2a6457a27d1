import { expect } from '@jest/globals';
import { WebSocket } from 'ws';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Frame = Record<string, any>;

interface Position {
  epoch: string;
  offset: number;
}

/**
 * A client that drops its connection every few frames and comes back with its last
 * positions (user stream and broadcasts on the URL, a task stream on its subscribe), as
 * a phone switching networks would. It records every frame that has an offset and every
 * `resumed` frame, so a test can check that each frame came once and in order.
 */
export class ResumingConsumer {
  /** Frames with a stream offset, in the order they arrived, across all connections. */
  readonly received: Frame[] = [];
  readonly resumed: Frame[] = [];
  readonly prompts: Frame[] = [];
  connections = 0;
  user?: Position;
  broadcast?: Position;
  task?: Position;
  private socket?: WebSocket;
  private stopped = false;
  private sinceConnect = 0;
  private dropAfter = 3;
  private subscribed?: Promise<void>;

  constructor(
    /** The service URL for the n-th connection (several instances: another each time). */
    private readonly urlFor: (attempt: number) => string,
    private readonly userId: string,
    private readonly taskId?: string,
    /** Frames after which the connection is dropped: 0 never drops. */
    private readonly dropEvery: () => number = () => 2 + Math.floor(Math.random() * 3),
  ) {}

  /** Connects and resolves once the first connection is subscribed and caught up. */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.socket?.terminate();
  }

  /** Waits until the predicate holds over what was received. */
  async until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`consumer: condition not met; got ${JSON.stringify(this.received.map(summary))}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Drops the connection now and reconnects after `pauseMs`. */
  async drop(pauseMs = 0): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    socket?.terminate();
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    if (!this.stopped) await this.connect();
  }

  /** Drops and comes back; a refused attempt is retried, as a real client backs off and retries. */
  private async reconnectSoon(): Promise<void> {
    for (let attempt = 0; attempt < 50 && !this.stopped; attempt++) {
      try {
        await this.drop(Math.random() * 60);
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  private connect(): Promise<void> {
    const params = new URLSearchParams({ user_id: this.userId });
    if (this.user) params.set('epoch', this.user.epoch), params.set('offset', String(this.user.offset));
    if (this.broadcast) params.set('broadcast_epoch', this.broadcast.epoch), params.set('broadcast_offset', String(this.broadcast.offset));
    const socket = new WebSocket(`${this.urlFor(this.connections++)}/?${params}`);
    this.socket = socket;
    this.sinceConnect = 0;
    this.dropAfter = this.dropEvery();
    return new Promise((resolve, reject) => {
      let ready = false;
      socket.once('error', (err) => (ready ? undefined : reject(err)));
      socket.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as Frame;
        const becameReady = this.handle(socket, frame);
        if (becameReady && !ready) {
          ready = true;
          resolve();
        }
      });
      socket.on('close', () => {
        if (!ready) reject(new Error('closed before ready'));
      });
    });
  }

  /** Returns true when the connection is ready (connected, and subscribed to the task if any). */
  private handle(socket: WebSocket, frame: Frame): boolean {
    if (socket !== this.socket) return false;
    switch (frame.type) {
      case 'connected':
        this.user ??= { epoch: frame.epoch, offset: frame.offset };
        this.broadcast ??= { epoch: frame.broadcast_epoch, offset: frame.broadcast_offset };
        if (!this.taskId) return true;
        socket.send(JSON.stringify({ action: 'subscribe', task_id: this.taskId, ...(this.task && { task_epoch: this.task.epoch, task_offset: this.task.offset }) }));
        return false;
      case 'subscription_confirmed':
        this.task ??= { epoch: frame.task_epoch, offset: frame.task_offset };
        return true;
      case 'resumed':
        this.resumed.push(frame);
        this.positionOf(frame.stream)!.epoch = frame.epoch;
        if (!frame.recovered) this.positionOf(frame.stream)!.offset = frame.offset;
        return false;
    }
    if (frame.type === 'task_step_result' && frame.offset === undefined) this.prompts.push(frame);
    const stream = frame.offset !== undefined ? 'user' : frame.broadcast_offset !== undefined ? 'broadcast' : frame.task_offset !== undefined ? 'task' : undefined;
    if (!stream) return false;
    const position = this.positionOf(stream)!;
    const offset = frame.offset ?? frame.broadcast_offset ?? frame.task_offset;
    position.offset = Math.max(position.offset, offset);
    this.received.push({ ...frame, _stream: stream });
    if (this.dropAfter > 0 && ++this.sinceConnect >= this.dropAfter) void this.reconnectSoon();
    return false;
  }

  private positionOf(stream: string): Position | undefined {
    return stream === 'user' ? this.user : stream === 'broadcast' ? this.broadcast : this.task;
  }
}

function summary(frame: Frame): string {
  return `${frame._stream}:${frame.offset ?? frame.broadcast_offset ?? frame.task_offset}:${frame.seq ?? frame.type}`;
}

/** Offsets of one stream's frames, in arrival order. */
export function offsetsOf(frames: Frame[], stream: 'user' | 'broadcast' | 'task'): number[] {
  return frames.filter((f) => f._stream === stream).map((f) => f.offset ?? f.broadcast_offset ?? f.task_offset);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Task progress, notices and broadcasts keep coming while the client drops and resumes. */
export async function streamWhileDropping(
  post: (method: string, path: string, body?: unknown) => Promise<unknown>,
  consumer: ResumingConsumer,
  userId: string,
  taskId: string,
  count: number,
): Promise<void> {
  await post('POST', `/tasks/${taskId}/subscribers`, { user_id: userId });
  await consumer.start();
  for (let seq = 0; seq < count; seq++) {
    const kind = seq % 3;
    if (kind === 0) await post('POST', `/tasks/${taskId}/messages`, { type: 'task_progress', progress: seq, seq });
    else if (kind === 1) await post('POST', `/users/${userId}/messages`, { type: 'personal_notification', message: `notice ${seq}`, seq });
    else await post('POST', '/broadcast', { type: 'system_notification', message: `all ${seq}`, seq });
    await sleep(5 + Math.random() * 15);
  }
  await consumer.until(() => consumer.received.length >= count);
  await sleep(200); // a duplicate would arrive now
  await consumer.stop();
}

/** Every frame exactly once, each stream in offset order, every catch-up complete. */
export function expectEveryFrameOnceInOrder(consumer: ResumingConsumer, count: number): void {
  const seqs = consumer.received.map((f) => f.seq);
  expect([...seqs].sort((x, y) => x - y)).toEqual(range(0, count - 1));
  for (const stream of ['user', 'broadcast', 'task'] as const) {
    const offsets = offsetsOf(consumer.received, stream);
    expect(offsets).toEqual(range(offsets[0], offsets[0] + offsets.length - 1));
    const streamSeqs = consumer.received.filter((f) => f._stream === stream).map((f) => f.seq);
    expect(streamSeqs).toEqual([...streamSeqs].sort((x, y) => x - y));
  }
  expect(consumer.connections).toBeGreaterThan(5);
  expect(consumer.resumed.length).toBeGreaterThan(5);
  expect(consumer.resumed.every((r) => r.recovered)).toBe(true);
}

