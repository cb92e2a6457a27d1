// Comparison server: the gateway's job done the idiomatic Socket.IO 4 way. One room per
// user, io.emit for broadcast, and a confirmation is an emit with acknowledgement.
// With REDIS_URL set it is one instance of a cluster: `@socket.io/redis-adapter` on two
// ioredis connections carries the emits (and the acknowledgements) between instances.
// Start with `node --expose-gc bench/servers/socketio.js`.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { Server } from 'socket.io';
import { createRouter, stepResultFrame } from './common.js';

const HOST = process.env.WEBSOCKET_HOST ?? '127.0.0.1';
const PORT = Number(process.env.WEBSOCKET_PORT ?? 8765);

const server = http.createServer(createRouter({ broadcast, sendToUser, notify }));
const io = new Server(server, { transports: ['websocket'], serveClient: false });
if (process.env.REDIS_URL) await useRedisAdapter(process.env.REDIS_URL);

async function useRedisAdapter(url) {
  const [{ Redis }, { createAdapter }] = await Promise.all([import('ioredis'), import('@socket.io/redis-adapter')]);
  const pubClient = new Redis(url);
  const subClient = pubClient.duplicate();
  io.adapter(createAdapter(pubClient, subClient));
}

io.on('connection', (socket) => {
  const userId = socket.handshake.query.user_id || null;
  if (userId) socket.join(userId);
  socket.emit('connected', { type: 'connected', connection_id: socket.id, user_id: userId, server_time: Date.now() / 1000 });
});

/** Returns the sockets of this instance (in a cluster the others deliver to theirs). */
function broadcast(body) {
  io.emit('message', body);
  return io.engine.clientsCount;
}

function sendToUser(userId, body) {
  io.to(userId).emit('message', { ...body, target_user_id: userId });
  return io.sockets.adapter.rooms.get(userId)?.size ?? 0;
}

/** Waits for every socket of the user to acknowledge; with none connected it times out at once. */
async function notify(body) {
  const { user_id, timeout_seconds = 300 } = body;
  const callbackId = body.callback_id ?? randomUUID();
  const frame = stepResultFrame(callbackId, body);
  const decision = { callback_id: callbackId, state: 'timed_out', proceed: false, feedback: null, timed_out: true, cancelled: false };
  try {
    const [answer] = await io.to(user_id).timeout(timeout_seconds * 1000).emitWithAck('task_step_result', frame);
    if (answer === undefined) return decision;
    const proceed = answer.proceed === true;
    const feedback = answer.feedback ?? null;
    io.to(user_id).emit('confirmation_accepted', { type: 'confirmation_accepted', callback_id: callbackId, proceed, feedback, timestamp: Date.now() / 1000 });
    return { ...decision, state: proceed ? 'confirmed' : 'rejected', proceed, feedback, timed_out: false };
  } catch {
    return decision;
  }
}

server.listen(PORT, HOST, () => console.log(`socketio listening on ${HOST}:${PORT}`));
