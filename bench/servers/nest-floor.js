// The framework alone: the gateway's job done on the stack the product owner fixed
// (NestJS on Fastify, a @WebSocketGateway on @nestjs/platform-ws), as naively as
// raw-ws.js does it on plain `ws` + `node:http`: no validation, no store, no limits, no
// history, no metrics, no logging. What the gateway costs above this server is the
// gateway's own; what this server costs above raw-ws.js is the framework's.
// Start with `node --expose-gc bench/servers/nest-floor.js`.
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Body, Controller, Get, HttpCode, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { WsAdapter } from '@nestjs/platform-ws';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import { decisionOf, memoryReport, stepResultFrame } from './common.js';

const HOST = process.env.WEBSOCKET_HOST ?? '127.0.0.1';
const PORT = Number(process.env.WEBSOCKET_PORT ?? 8765);

const socketsByUser = new Map(); // user_id -> Set<WebSocket>
const waiting = new Map(); // callback_id -> (answer) => void

class Gateway {
  handleConnection(ws, req) {
    const userId = new URL(req.url, 'http://x').searchParams.get('user_id');
    if (userId) {
      if (!socketsByUser.has(userId)) socketsByUser.set(userId, new Set());
      socketsByUser.get(userId).add(ws);
      ws.on('close', () => socketsByUser.get(userId)?.delete(ws));
    }
    ws.send(JSON.stringify({ type: 'connected', connection_id: randomUUID(), user_id: userId, server_time: Date.now() / 1000 }));
  }

  confirm(frame, ws) {
    const resolve = waiting.get(frame.callback_id);
    if (!resolve) return;
    resolve({ proceed: frame.proceed === true, feedback: frame.feedback ?? null });
    ws.send(JSON.stringify({ type: 'confirmation_accepted', callback_id: frame.callback_id, proceed: frame.proceed === true, feedback: frame.feedback ?? null, timestamp: Date.now() / 1000 }));
  }
}
decorateMethod(Gateway, 'confirm', [SubscribeMessage('confirm')], [MessageBody(), ConnectedSocket()]);
WebSocketServer()(Gateway.prototype, 'server');
WebSocketGateway({ perMessageDeflate: false })(Gateway);

class Routes {
  health() {
    return { status: 'ok' };
  }

  memory() {
    return memoryReport();
  }

  broadcast(body) {
    const payload = JSON.stringify(body);
    for (const ws of this.allSockets()) ws.send(payload);
    return { delivered: this.allSockets().length };
  }

  sendToUser(userId, body) {
    return { delivered: sendTo(userId, JSON.stringify({ ...body, target_user_id: userId })) };
  }

  notify(body) {
    const callbackId = body.callback_id ?? randomUUID();
    const frame = stepResultFrame(callbackId, body);
    const decision = decisionOf(waiting, callbackId, body.timeout_seconds ?? 300);
    sendTo(body.user_id, JSON.stringify(frame));
    return decision;
  }

  allSockets() {
    return [...socketsByUser.values()].flatMap((sockets) => [...sockets]);
  }
}
decorateMethod(Routes, 'health', [Get('health')]);
decorateMethod(Routes, 'memory', [Get('__bench/mem')]);
decorateMethod(Routes, 'broadcast', [Post('broadcast'), HttpCode(200)], [Body()]);
decorateMethod(Routes, 'sendToUser', [Post('users/:id/messages'), HttpCode(200)], [Param('id'), Body()]);
decorateMethod(Routes, 'notify', [Post('notify'), HttpCode(200)], [Body()]);
Controller()(Routes);

function sendTo(userId, payload) {
  let delivered = 0;
  for (const ws of socketsByUser.get(userId) ?? []) {
    ws.send(payload);
    delivered++;
  }
  return delivered;
}

class FloorModule {}
Module({ controllers: [Routes], providers: [Gateway] })(FloorModule);

/** What TypeScript's decorators would do: method decorators, then parameter decorators by index. */
function decorateMethod(target, name, methodDecorators, parameterDecorators = []) {
  const descriptor = Object.getOwnPropertyDescriptor(target.prototype, name);
  Reflect.decorate(methodDecorators, target.prototype, name, descriptor);
  parameterDecorators.forEach((decorate, index) => decorate(target.prototype, name, index));
}

const app = await NestFactory.create(FloorModule, new FastifyAdapter(), { logger: ['error', 'warn'] });
// The original wire format routes on `action`, not on Nest's default `event`.
app.useWebSocketAdapter(new WsAdapter(app, { messageParser: (data) => {
  const frame = JSON.parse(data.toString());
  return { event: frame.action, data: frame };
} }));
await app.listen(PORT, HOST);
console.log(`nest-floor listening on ${HOST}:${PORT}`);
