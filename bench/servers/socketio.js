// Comparison server: Socket.IO 4 on `node:http` (the job itself is in socketio-job.js).
// With REDIS_URL set it is one instance of a cluster on `@socket.io/redis-adapter`.
// Start with `node --expose-gc bench/servers/socketio.js`.
import http from 'node:http';
import { createRouter } from './common.js';
import { socketIoJob } from './socketio-job.js';

const HOST = process.env.WEBSOCKET_HOST ?? '127.0.0.1';
const PORT = Number(process.env.WEBSOCKET_PORT ?? 8765);

const server = http.createServer();
server.on('request', createRouter(await socketIoJob(server)));

server.listen(PORT, HOST, () => console.log(`socketio listening on ${HOST}:${PORT}`));
