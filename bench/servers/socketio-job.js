// The gateway's job done the idiomatic Socket.IO 4 way, on whichever HTTP server is given:
// one room per user, io.emit for broadcast, and a confirmation is an emit with
// acknowledgement. With REDIS_URL set it is one instance of a cluster:
// `@socket.io/redis-adapter` on two ioredis connections carries the emits (and the
// acknowledgements) between instances. Used by socketio.js (node:http) and
// socketio-express.js (Express 5).
import { randomUUID } from 'node:crypto';
import { Server } from 'socket.io';
import { stepResultFrame } from './common.js';

export async function socketIoJob(server) {
  const io = new Server(server, { transports: ['websocket'], serveClient: false });
  if (process.env.REDIS_URL) await useRedisAdapter(io, process.env.REDIS_URL);

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

  return { broadcast, sendToUser, notify };
}

async function useRedisAdapter(io, url) {
  const [{ Redis }, { createAdapter }] = await Promise.all([import('ioredis'), import('@socket.io/redis-adapter')]);
  const pubClient = new Redis(url);
  const subClient = pubClient.duplicate();
  io.adapter(createAdapter(pubClient, subClient));
}
