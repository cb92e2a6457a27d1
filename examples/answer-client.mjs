// A tiny user client for the walk-through: connects as a user, prints every frame,
// and answers each confirmation after asking on the terminal (y/n).
//   node examples/answer-client.mjs alice [ws://localhost:8765]
import { createInterface } from 'node:readline/promises';
import WebSocket from 'ws';

const [userId = 'alice', base = 'ws://localhost:8765'] = process.argv.slice(2);
const ws = new WebSocket(`${base}/?user_id=${encodeURIComponent(userId)}`);
const terminal = createInterface({ input: process.stdin, output: process.stdout });

ws.on('open', () => console.log(`connected as ${userId}`));
ws.on('close', (code) => {
  console.log(`closed (${code})`);
  process.exit(0);
});
ws.on('message', async (raw) => {
  const frame = JSON.parse(raw.toString());
  console.log('<-', JSON.stringify(frame));
  if (frame.type !== 'task_step_result') return;
  const answer = await terminal.question(`${frame.message} Proceed? [y/n] `);
  const proceed = answer.trim().toLowerCase().startsWith('y');
  ws.send(JSON.stringify({ action: 'confirm', callback_id: frame.callback_id, proceed, feedback: proceed ? 'go on' : 'stop' }));
});
