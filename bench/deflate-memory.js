// What WEBSOCKET_PERMESSAGE_DEFLATE costs in memory: the gateway, started as the bench
// starts it, with N clients, before and after a few broadcasts large enough to be
// compressed. RSS after forced collections. Usage (after npm run build):
//   node bench/deflate-memory.js [clients]
import { once } from 'node:events';
import { join } from 'node:path';
import WebSocket from 'ws';
import { postJson } from './lib/http.js';
import { AUTH_HEADERS, ROOT, startServer } from './lib/servers.js';
import { sleep } from './lib/stats.js';

const CLIENTS = Number(process.argv[2] ?? 2000);
const BROADCASTS = 3;
const NOTICE = { type: 'system_notification', text: 'step 3 of 5 finished, 5 rows failed. '.repeat(110) };

async function rssPerConnection(deflate) {
  process.env.WEBSOCKET_PERMESSAGE_DEFLATE = String(deflate);
  const server = await startServer('gateway', { logDir: join(ROOT, 'bench/results/logs'), tag: `deflate-${deflate}` });
  try {
    const rss = async () => (await server.memory()).rss;
    const before = await rss();
    const sockets = [];
    let received = 0;
    for (let i = 0; i < CLIENTS; i++) {
      const socket = new WebSocket(`${server.baseUrl.replace('http', 'ws')}/?user_id=user-${i}`);
      await once(socket, 'message');
      socket.on('message', () => received++);
      sockets.push(socket);
    }
    const idle = await rss();
    for (let i = 0; i < BROADCASTS; i++) await postJson(`${server.baseUrl}/broadcast`, NOTICE, { headers: AUTH_HEADERS });
    while (received < BROADCASTS * CLIENTS) await sleep(50);
    const used = await rss();
    for (const socket of sockets) socket.terminate();
    return { idle: (idle - before) / CLIENTS / 1024, used: (used - before) / CLIENTS / 1024 };
  } finally {
    await server.stop();
  }
}

for (const deflate of [false, true]) {
  const { idle, used } = await rssPerConnection(deflate);
  console.log(
    `WEBSOCKET_PERMESSAGE_DEFLATE=${deflate}: RSS per connection ${idle.toFixed(1)} KiB idle, ` +
      `${used.toFixed(1)} KiB after ${BROADCASTS} broadcasts of ${JSON.stringify(NOTICE).length} bytes (${CLIENTS} clients)`,
  );
}
