import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { WebSocket } from 'ws';
import { NO_TASKS } from '../src/connections/client-connection.js';
import { ConnectionService } from '../src/connections/connection.service.js';
import { StreamOffsets } from '../src/connections/stream-offsets.js';
import { TaskGateway } from '../src/gateway/task.gateway.js';
import { TestClient } from './support/test-client.js';
import { startTestApp, TestApp } from './support/test-app.js';

/**
 * What an idle connection costs is mostly what the gateway attaches to its socket: every
 * listener, handler table and empty collection made per connection is kept for hours.
 * These checks hold the per-connection state to what cannot be shared.
 */
describe('idle connection memory', () => {
  let t: TestApp;
  let connections: ConnectionService;

  beforeAll(async () => {
    t = await startTestApp();
    connections = t.app.get(ConnectionService);
  });

  afterAll(async () => {
    await t.close();
  });

  async function serverSide(client: TestClient) {
    const connected = client.ofType('connected')[0];
    const connection = connections.byId(connected.connection_id as string);
    if (connection === undefined) throw new Error('connection not registered');
    return connection;
  }

  /** The listeners both sockets have for `event`, each the same function object on both. */
  function sharedListeners(a: NodeJS.EventEmitter, b: NodeJS.EventEmitter, event: string): boolean {
    const mine = a.listeners(event);
    const theirs = b.listeners(event);
    return mine.length === theirs.length && mine.every((listener, i) => listener === theirs[i]);
  }

  it('gives every socket the same listener functions, not closures of its own', async () => {
    const [a, b] = await Promise.all([t.connect('idle-a'), t.connect('idle-b')]);
    const [first, second] = await Promise.all([serverSide(a), serverSide(b)]);
    for (const event of ['message', 'pong', 'close', 'error']) {
      expect([event, sharedListeners(first.socket, second.socket, event)]).toEqual([event, true]);
    }
    const rawFirst = (first.socket as WebSocket & { _socket: NodeJS.EventEmitter })._socket;
    const rawSecond = (second.socket as WebSocket & { _socket: NodeJS.EventEmitter })._socket;
    for (const event of ['close', 'error', 'end', 'data']) {
      expect([`tcp ${event}`, sharedListeners(rawFirst, rawSecond, event)]).toEqual([`tcp ${event}`, true]);
    }
  });

  it('shares one action list and one empty task set between idle connections', async () => {
    const [a, b] = await Promise.all([t.connect('idle-c'), t.connect('idle-d')]);
    const [first, second] = await Promise.all([serverSide(a), serverSide(b)]);
    expect(first.actions).toBe(second.actions);
    expect(first.handlers.length).toBe(first.actions.length);
    expect(first.tasks).toBe(NO_TASKS);
    expect(second.tasks).toBe(NO_TASKS);
  });

  it('keeps the offsets of the streams it caught up on in pairs, not in hash tables', async () => {
    const a = await t.connect('idle-h');
    const connection = await serverSide(a);
    for (const offsets of [connection.streamStarts, connection.floors]) {
      expect(offsets === null || offsets instanceof StreamOffsets).toBe(true);
    }
    expect(connection.streamStarts?.size).toBeGreaterThan(0);
  });

  it('still routes frames and keeps task subscriptions apart', async () => {
    const [a, b] = await Promise.all([t.connect('idle-e'), t.connect('idle-f')]);
    const [first, second] = await Promise.all([serverSide(a), serverSide(b)]);
    expect((await a.request({ action: 'ping' }, 'pong')).type).toBe('pong');
    expect((await t.http('POST', '/tasks/idle-task/subscribers', { user_id: 'idle-e' })).status).toBe(201);
    expect((await a.request({ action: 'subscribe', task_id: 'idle-task' }, 'subscription_confirmed')).subscribed_tasks).toEqual(['idle-task']);
    expect([...first.tasks]).toEqual(['idle-task']);
    expect(second.tasks).toBe(NO_TASKS);
    expect(NO_TASKS.size).toBe(0);
    expect((await a.request({ action: 'unsubscribe', task_id: 'idle-task' }, 'unsubscribed')).subscribed_tasks).toEqual([]);
    expect((await b.request({ action: 'nope' }, 'error')).code).toBe('unknown_action');
  });

  it('has no handleDisconnect for the adapter to feed (GatewayWsAdapter.bindClientDisconnect binds none)', () => {
    expect((TaskGateway.prototype as { handleDisconnect?: unknown }).handleDisconnect).toBeUndefined();
  });

  it('forgets a socket once it closes', async () => {
    const a = await t.connect('idle-g');
    const connection = await serverSide(a);
    a.socket.close();
    await a.closed;
    for (let i = 0; i < 50 && connections.byId(connection.id) !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
    expect(connections.byId(connection.id)).toBeUndefined();
  });
});
