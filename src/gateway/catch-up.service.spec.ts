import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import type { ClientConnection } from '../connections/client-connection.js';
import { ConnectionService } from '../connections/connection.service.js';
import { PreparedFrame } from '../connections/prepared-frame.js';
import { userStream } from '../history/history.store.js';
import { MemoryHistoryStore } from '../history/memory-history.store.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import type { ConnectedFrame } from '../protocol/server-frames.js';
import { CATCH_UP_PACE_BYTES, CATCH_UP_PAGE, CatchUpService } from './catch-up.service.js';

// Connections opening and a slow consumer closed are logged; the test output keeps only results.
beforeAll(() => Logger.overrideLogger(false));
afterAll(() => Logger.overrideLogger(['error', 'warn', 'log']));

type Frame = Record<string, unknown>;

/** A socket that records what it is sent; its unsent bytes are set by the test. */
class RecordingSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  readonly frames: Frame[] = [];
  send(payload: string): void {
    this.frames.push(JSON.parse(payload) as Frame);
  }
  ping(): void {}
  close(): void {
    this.readyState = 2;
  }
  terminate(): void {}
}

const settings = {
  HISTORY_TTL_SECONDS: 600,
  WEBSOCKET_PING_INTERVAL: 30,
  WEBSOCKET_PING_TIMEOUT: 10,
  WEBSOCKET_MAX_BUFFERED_BYTES: 4 * 1024 * 1024,
  WEBSOCKET_RATE_LIMIT: 20,
  WEBSOCKET_RATE_BURST: 40,
  WEBSOCKET_RATE_ABUSE_LIMIT: 200,
};
const limits = { size: 1000, ttlMs: 600_000, metaTtlMs: 600_000, maxBytesPerStream: 1 << 24, maxBytesTotal: 1 << 26 };
const NOTHING = new Map<string, number>();
const until = async (check: () => boolean) => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
  if (!check()) throw new Error(`condition not met`);
};

/** Every socket of the test: closed after it, so no catch-up is left waiting on one. */
const sockets: RecordingSocket[] = [];
afterEach(() => sockets.splice(0).forEach((socket) => (socket.readyState = 3)));

function setup(historySize = limits.size) {
  const config = new ConfigService(settings as unknown as Record<string, unknown>);
  const connections = new ConnectionService(config as never, {} as MetricsService);
  const history = new MemoryHistoryStore({ ...limits, size: historySize });
  const catchUp = new CatchUpService(history, connections, config as never);
  /** A new connection of alice's, on a socket that records its frames. */
  const connect = () => {
    const socket = new RecordingSocket();
    sockets.push(socket);
    const connection = connections.register(socket as unknown as WebSocket, { userId: 'alice', expiresAt: null });
    return { socket, connection };
  };
  /** What live delivery does: append to the user's stream, send to the user's connections. */
  const publish = (count: number, padding = '') => {
    for (let i = 0; i < count; i++) {
      const { offset, json } = history.append(userStream('alice'), padding === '' ? '{"type":"n"}' : `{"type":"n","padding":"${padding}"}`);
      for (const c of connections.connectionsOfUser('alice')) connections.send(c, new PreparedFrame(json, 'u', offset));
    }
  };
  /** A connect as the gateway runs it: held from the start, one catch-up, then released. */
  const open = async (connection: ClientConnection, offset?: number) => {
    connections.hold(connection);
    const { epoch } = await history.position(userStream('alice'));
    const connected: ConnectedFrame = { type: 'connected', connection_id: connection.id, user_id: 'alice', server_time: 0 };
    try {
      await catchUp.exclusive(connection, () => catchUp.open(connection, connected, offset === undefined ? {} : { user: { epoch, offset } }));
    } finally {
      connections.release(connection, NOTHING);
    }
  };
  return { catchUp, connections, publish, open, connect };
}

/** The user-stream offsets a socket got, with `R` where a `resumed` frame came. */
const sequence = (socket: RecordingSocket): Array<number | 'R'> =>
  socket.frames.flatMap((frame): Array<number | 'R'> => (frame.type === 'n' ? [frame.offset as number] : frame.type === 'resumed' && frame.stream === 'user' ? ['R'] : []));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('CatchUpService: a catch-up racing live frames', () => {
  it('a connect from offset 0 gets every kept frame once, in order, then the frames published while it paged', async () => {
    const { connect, publish, open } = setup();
    publish(150);
    const { socket, connection } = connect();
    socket.bufferedAmount = CATCH_UP_PACE_BYTES + 1;
    const opening = open(connection, 0);
    await until(() => sequence(socket).length === CATCH_UP_PAGE.frames);
    publish(5);
    socket.bufferedAmount = 0;
    await opening;
    publish(2);
    expect(sequence(socket)).toEqual([...range(1, 150), 'R', ...range(151, 157)]);
  });

  it('a resume on a live connection sends only what came before it went live, once; repeating it sends nothing', async () => {
    const { connect, publish, open, catchUp } = setup();
    publish(100);
    const { socket, connection } = connect();
    await open(connection);
    publish(3);
    expect(sequence(socket)).toEqual([101, 102, 103]);
    const { epoch } = socket.frames[0] as { epoch: string };

    socket.bufferedAmount = CATCH_UP_PACE_BYTES + 1;
    const resuming = catchUp.resume(connection, { user: { epoch, offset: 0 } });
    await until(() => sequence(socket).length === 3 + CATCH_UP_PAGE.frames);
    expect(catchUp.isResuming(connection)).toBe(true);
    publish(2);
    socket.bufferedAmount = 0;
    expect(await resuming).toEqual({ recovered: true, reachedBack: true });
    expect(catchUp.isResuming(connection)).toBe(false);
    expect(sequence(socket)).toEqual([101, 102, 103, ...range(1, 100), 'R', 104, 105]);

    const before = socket.frames.length;
    expect(await catchUp.resume(connection, { user: { epoch, offset: 0 } })).toEqual({ recovered: true, reachedBack: false });
    expect(await catchUp.resume(connection, { user: { epoch, offset: 50 } })).toEqual({ recovered: true, reachedBack: false });
    expect(socket.frames.slice(before).map((frame) => [frame.type, frame.missed])).toEqual([['resumed', 0], ['resumed', 0]]);
  });

  it('runs one catch-up at a time per connection: the next waits, and reads only what the first did not send', async () => {
    const { connect, publish, open, catchUp } = setup();
    publish(200);
    const { socket, connection } = connect();
    await open(connection);
    const { epoch } = socket.frames[0] as { epoch: string };
    socket.bufferedAmount = CATCH_UP_PACE_BYTES + 1;
    const first = catchUp.resume(connection, { user: { epoch, offset: 0 } });
    const second = catchUp.exclusive(connection, async () => sequence(socket).length);
    await until(() => sequence(socket).length === CATCH_UP_PAGE.frames);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sequence(socket)).toHaveLength(CATCH_UP_PAGE.frames);
    socket.bufferedAmount = 0;
    await first;
    expect(await second).toBe(201);
    expect(sequence(socket)).toEqual([...range(1, 200), 'R']);
  });

  it('stops paging when the socket closes while it waits', async () => {
    const { connect, publish, open, catchUp } = setup();
    publish(200);
    const { socket, connection } = connect();
    await open(connection);
    const { epoch } = socket.frames[0] as { epoch: string };
    socket.bufferedAmount = CATCH_UP_PACE_BYTES + 1;
    const resuming = catchUp.resume(connection, { user: { epoch, offset: 0 } });
    await until(() => sequence(socket).length === CATCH_UP_PAGE.frames);
    socket.readyState = 3;
    await resuming;
    expect(sequence(socket)).toHaveLength(CATCH_UP_PAGE.frames);
  });

  it('closes a connection that stops reading mid-catch-up once what is held for it passes the slow-consumer limit', async () => {
    const { connect, connections, publish, open, catchUp } = setup();
    publish(200);
    const { socket, connection } = connect();
    await open(connection);
    const { epoch } = socket.frames[0] as { epoch: string };
    socket.bufferedAmount = CATCH_UP_PACE_BYTES + 1;
    const resuming = catchUp.resume(connection, { user: { epoch, offset: 0 } });
    await until(() => sequence(socket).length === CATCH_UP_PAGE.frames);
    publish(50, 'x'.repeat(100_000));
    expect(socket.readyState).toBe(2);
    expect(connections.byId(connection.id)).toBeUndefined();
    await resuming;
    expect(connections.stats().slowConsumers).toBe(1);
  });

  it('a resume into trimmed history reaches back once; repeating it reaches nothing (no prompts or acks resent again)', async () => {
    const { connect, publish, open, catchUp } = setup(50);
    publish(200);
    const { socket, connection } = connect();
    await open(connection);
    const { epoch } = socket.frames[0] as { epoch: string };
    expect(await catchUp.resume(connection, { user: { epoch, offset: 0 } })).toEqual({ recovered: false, reachedBack: true });
    expect(await catchUp.resume(connection, { user: { epoch, offset: 0 } })).toEqual({ recovered: false, reachedBack: false });
    expect(sequence(socket)).toEqual([...range(151, 200), 'R', 'R']);
    expect(socket.frames.filter((frame) => frame.type === 'resumed').map((frame) => frame.missed)).toEqual([50, 0]);
  });
});
