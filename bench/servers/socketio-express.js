// Comparison server: the stack many Node teams would pick for this job, Socket.IO 4 on
// Express 5 with `express.json()` (the job itself is socketio-job.js, as for socketio.js;
// only the HTTP side differs). With REDIS_URL set it is one instance of a cluster on
// `@socket.io/redis-adapter`. Start with `node --expose-gc bench/servers/socketio-express.js`.
import http from 'node:http';
import express from 'express';
import { memoryReport } from './common.js';
import { socketIoJob } from './socketio-job.js';

const HOST = process.env.WEBSOCKET_HOST ?? '127.0.0.1';
const PORT = Number(process.env.WEBSOCKET_PORT ?? 8765);

const app = express();
const server = http.createServer(app);
const { broadcast, sendToUser, notify } = await socketIoJob(server);

const isObject = (body) => body !== null && typeof body === 'object' && !Array.isArray(body);

app.get('/health', (_req, res) => res.json({ status: 'ok' }));
app.get('/__bench/mem', (_req, res) => res.json(memoryReport()));
app.use(express.json());
app.use((req, res, next) => (isObject(req.body) ? next() : res.status(400).json({ error: 'body must be a JSON object' })));
app.post('/broadcast', (req, res) => res.json({ delivered: broadcast(req.body) }));
app.post('/users/:userId/messages', (req, res) => res.json({ delivered: sendToUser(req.params.userId, req.body) }));
app.post('/notify', async (req, res) => res.json(await notify(req.body)));
app.use((_req, res) => res.status(404).json({ error: 'not found' }));
// A body express.json() cannot parse.
app.use((err, _req, res, _next) => res.status(err.status ?? 500).json({ error: err.message }));

server.listen(PORT, HOST, () => console.log(`socketio-express listening on ${HOST}:${PORT}`));
