// One benchmark client, the same shape for plain WebSocket servers and Socket.IO:
// resolves once the server's `connected` greeting arrived, then hands every later
// message to onMessage(message, reply). `reply` answers a confirmation: a frame for
// the WebSocket servers, the acknowledgement for Socket.IO.
import WebSocket from 'ws';
import { io } from 'socket.io-client';

export function openClient(kind, options) {
  return kind === 'socketio' ? openSocketIo(options) : openWebSocket(options);
}

function openWebSocket({ baseUrl, userId, localAddress, timeoutMs, onMessage, onClose }) {
  const url = `${baseUrl.replace(/^http/, 'ws')}/?user_id=${encodeURIComponent(userId)}`;
  const ws = new WebSocket(url, { localAddress, perMessageDeflate: false, handshakeTimeout: timeoutMs });
  const reply = (answer) => ws.send(JSON.stringify(answer));
  return new Promise((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => fail(new Error('no greeting in time')), timeoutMs);
    const fail = (err) => {
      clearTimeout(timer);
      ws.terminate();
      reject(err);
    };
    ws.on('message', (data) => {
      const message = JSON.parse(data);
      if (!ready && message.type === 'connected') {
        ready = true;
        clearTimeout(timer);
        return resolve({ close: () => ws.terminate() });
      }
      onMessage(message, reply);
    });
    ws.on('error', (err) => !ready && fail(err));
    ws.on('close', () => (ready ? onClose() : fail(new Error('closed before the greeting'))));
  });
}

function openSocketIo({ baseUrl, userId, localAddress, timeoutMs, onMessage, onClose }) {
  const socket = io(baseUrl, {
    transports: ['websocket'],
    query: { user_id: userId },
    forceNew: true,
    reconnection: false,
    timeout: timeoutMs,
    localAddress,
  });
  socket.on('message', (message) => onMessage(message));
  socket.on('task_step_result', (message, ack) => onMessage(message, ack));
  socket.on('confirmation_accepted', (message) => onMessage(message));
  return new Promise((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => fail(new Error('no greeting in time')), timeoutMs);
    const fail = (err) => {
      clearTimeout(timer);
      socket.disconnect();
      reject(err);
    };
    socket.once('connected', () => {
      ready = true;
      clearTimeout(timer);
      resolve({ close: () => socket.disconnect() });
    });
    socket.on('connect_error', (err) => !ready && fail(err));
    socket.on('disconnect', (reason) => (ready ? onClose() : fail(new Error(`disconnected: ${reason}`))));
  });
}
