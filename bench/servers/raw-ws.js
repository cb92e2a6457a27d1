// Baseline for the benchmark: the gateway's job done with plain `ws` + `node:http`,
// as naively as possible. Start with `node --expose-gc bench/servers/raw-ws.js`.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { createRouter, decisionOf, stepResultFrame } from './common.js';

const HOST = process.env.WEBSOCKET_HOST ?? '127.0.0.1';
const PORT = Number(process.env.WEBSOCKET_PORT ?? 8765);

const socketsByUser = new Map(); // user_id -> Set<WebSocket>
const waiting = new Map(); // callback_id -> (answer) => void

const server = http.createServer(createRouter({ broadcast, sendToUser: sendMessageToUser, notify }));
const wss = new WebSocketServer({ server, perMessageDeflate: false });

wss.on('connection', (ws, req) => {
  const userId = new URL(req.url, 'http://x').searchParams.get('user_id');
  if (userId) addSocket(userId, ws);
  ws.send(JSON.stringify({ type: 'connected', connection_id: randomUUID(), user_id: userId, server_time: Date.now() / 1000 }));
  ws.on('message', (data) => onFrame(ws, data));
  ws.on('close', () => userId && socketsByUser.get(userId)?.delete(ws));
});

function addSocket(userId, ws) {
  if (!socketsByUser.has(userId)) socketsByUser.set(userId, new Set());
  socketsByUser.get(userId).add(ws);
}

function onFrame(ws, data) {
  let frame;
  try {
    frame = JSON.parse(data);
  } catch {
    return;
  }
  if (frame.action !== 'confirm') return;
  const resolve = waiting.get(frame.callback_id);
  if (!resolve) return;
  resolve({ proceed: frame.proceed === true, feedback: frame.feedback ?? null });
  ws.send(JSON.stringify({ type: 'confirmation_accepted', callback_id: frame.callback_id, proceed: frame.proceed === true, feedback: frame.feedback ?? null, timestamp: Date.now() / 1000 }));
}

function sendMessageToUser(userId, body) {
  return sendToUser(userId, JSON.stringify({ ...body, target_user_id: userId }));
}

function sendToUser(userId, payload) {
  let delivered = 0;
  for (const ws of socketsByUser.get(userId) ?? []) {
    ws.send(payload);
    delivered++;
  }
  return delivered;
}

function broadcast(body) {
  const payload = JSON.stringify(body);
  for (const ws of wss.clients) ws.send(payload);
  return wss.clients.size;
}

function notify(body) {
  const { user_id, timeout_seconds = 300 } = body;
  const callbackId = body.callback_id ?? randomUUID();
  const frame = stepResultFrame(callbackId, body);
  const decision = decisionOf(waiting, callbackId, timeout_seconds);
  sendToUser(user_id, JSON.stringify(frame));
  return decision;
}

server.listen(PORT, HOST, () => console.log(`raw-ws listening on ${HOST}:${PORT}`));
