import { Logger } from '@nestjs/common';
import { createServer, request as httpRequest, Agent, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { PendingConnectionCap } from './pending-connection-cap.js';

beforeAll(() => Logger.overrideLogger(false));
afterAll(() => Logger.overrideLogger(['error', 'warn', 'log']));

describe('PendingConnectionCap', () => {
  let server: Server;
  let port: number;
  let shed: number;
  const opened: Socket[] = [];

  beforeEach(async () => {
    shed = 0;
    server = createServer((_req, res) => res.end('ok'));
    // A cap of 2: past twice the cap (4) even connections in their first second are closed.
    new PendingConnectionCap(2, () => shed++).attach(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    for (const socket of opened.splice(0)) socket.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  async function openIdle(): Promise<Socket> {
    const socket = connect(port, '127.0.0.1');
    opened.push(socket);
    await new Promise((resolve) => socket.once('connect', resolve));
    await sleep(15);
    return socket;
  }

  it('counts a keep-alive connection that finished a request as the newest pending one', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const answered = (): Promise<number> =>
      new Promise((resolve, reject) => {
        httpRequest({ port, host: '127.0.0.1', path: '/', agent }, (res) => res.resume().on('end', () => resolve(res.statusCode ?? 0))).on('error', reject).end();
      });
    // The agent's connection opens first, then an idle one.
    expect(await answered()).toBe(200);
    const oldestIdle = await openIdle();
    // The agent's connection answers again: from now on it is younger than `oldestIdle`.
    await sleep(15);
    expect(await answered()).toBe(200);
    await sleep(15);
    const closed = new Promise((resolve) => oldestIdle.once('close', resolve));
    // Three more: five pending, one past twice the cap, so the oldest pending goes.
    await openIdle();
    await openIdle();
    await openIdle();
    await closed;
    expect(shed).toBe(1);
    // The agent's keep-alive connection is still there: a third request reuses it.
    expect(await answered()).toBe(200);
    agent.destroy();
  });

  it('never closes a connection whose request has arrived and is being answered', async () => {
    const slow = createServer();
    const cap = new PendingConnectionCap(1, () => shed++);
    cap.attach(slow);
    let answer: (() => void) | undefined;
    slow.on('request', (_req, res) => (answer = () => res.end('late')));
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const slowPort = (slow.address() as AddressInfo).port;
    const reply = new Promise<number>((resolve, reject) => {
      httpRequest({ port: slowPort, host: '127.0.0.1', path: '/' }, (res) => res.resume().on('end', () => resolve(res.statusCode ?? 0))).on('error', reject).end();
    });
    while (!answer) await sleep(5);
    const idle = Array.from({ length: 4 }, () => connect(slowPort, '127.0.0.1'));
    await sleep(100);
    expect(shed).toBeGreaterThanOrEqual(1);
    answer();
    expect(await reply).toBe(200);
    for (const socket of idle) socket.destroy();
    slow.closeAllConnections();
    await new Promise((resolve) => slow.close(resolve));
  });
});
