// The user's side for the Python tests: one browser tab, played by a real `ws` client.
//   node user_agent.mjs ws://127.0.0.1:PORT/?user_id=alice
// stdout: one JSON event per line: {"event":"open"}, {"event":"frame","frame":{...}},
//         {"event":"close","code":1006}. stdin: one JSON frame per line, sent as it is.
// Like a tab whose page reconnects, it connects again 100 ms after every close, until
// stdin ends.
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const url = process.argv[2];
let socket;
let stopped = false;

function emit(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function connect() {
  socket = new WebSocket(url);
  socket.on('open', () => emit({ event: 'open' }));
  socket.on('message', (data) => emit({ event: 'frame', frame: JSON.parse(data.toString()) }));
  socket.on('error', () => {}); // 'close' follows, and reconnecting is the answer to both
  socket.on('close', (code) => {
    emit({ event: 'close', code });
    if (!stopped) setTimeout(connect, 100);
  });
}

createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(line);
    else emit({ event: 'unsent', frame: JSON.parse(line) });
  })
  .on('close', () => {
    stopped = true;
    socket.close();
    setTimeout(() => process.exit(0), 500).unref();
  });

connect();
