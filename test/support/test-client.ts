import { WebSocket } from 'ws';

type Frame = Record<string, any>;

/**
 * A real `ws` client that keeps every frame it receives, so a test can wait for the
 * next frame of a type or assert that none arrived.
 */
export class TestClient {
  readonly frames: Frame[] = [];
  private readonly taken = new Set<number>();
  private waiters: Array<() => void> = [];
  private static markers = 0;
  closeCode: number | null = null;
  closeReason = '';
  readonly closed: Promise<number>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()));
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.wake();
        resolve(code);
      }),
    );
  }

  static open(url: string, options?: ConstructorParameters<typeof WebSocket>[2]): Promise<TestClient> {
    const socket = new WebSocket(url, options);
    const client = new TestClient(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk));
        res.on('end', () => reject(new Error(`upgrade refused: ${res.statusCode} ${body}`)));
      });
    });
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /**
   * The oldest frame of this type not yet taken by an earlier call. The default bound only
   * limits how long a failing test waits: on a loaded 2-core machine running two Jest workers,
   * a cross-instance prompt once took over 3 s. Tests that assert timing pass their own.
   */
  async next(type: string, timeoutMs = 10_000): Promise<Frame> {
    return this.nextMatching(type, () => true, timeoutMs);
  }

  /**
   * Like next(), for one confirmation's frames only: a prompt may come twice (a connect racing
   * it gets it from the pending list and live), and the second copy must not stand in for the
   * next confirmation's.
   */
  async nextFor(type: string, callbackId: string, timeoutMs = 10_000): Promise<Frame> {
    return this.nextMatching(type, (frame) => frame.callback_id === callbackId, timeoutMs);
  }

  private async nextMatching(type: string, matches: (frame: Frame) => boolean, timeoutMs: number): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex((f, i) => !this.taken.has(i) && f.type === type && matches(f));
      if (index >= 0) {
        this.taken.add(index);
        return this.frames[index];
      }
      if (this.closeCode !== null) throw new Error(`closed (${this.closeCode}) while waiting for ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /**
   * Resolves once every frame the server queued for this socket before it read a ping has
   * arrived: the ping's pong comes after them. A "nothing else arrived" check goes after
   * this, or after a later frame that must come after, never after a sleep.
   */
  async settled(timeoutMs = 3000): Promise<void> {
    const marker = `settled-${TestClient.markers++}`;
    this.send({ action: 'ping', marker });
    const isMarked = (f: Frame, i: number) => !this.taken.has(i) && f.type === 'pong' && f.original_data?.marker === marker;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex(isMarked);
      if (index >= 0) {
        this.taken.add(index);
        return;
      }
      if (this.closeCode !== null) throw new Error(`closed (${this.closeCode}) before the pong of ${marker}`);
      if (Date.now() > deadline) throw new Error(`no pong for ${marker} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends a frame and returns the reply of the given type. */
  async request(frame: unknown, replyType: string): Promise<Frame> {
    this.send(frame);
    return this.next(replyType);
  }

  ofType(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  terminate(): void {
    this.socket.terminate();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
