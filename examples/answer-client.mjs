// A user's client for the walk-through, built on the SDK (clients/js): prints what arrives
// and asks on the terminal whether to proceed with each prompt.
//   npm run build && node examples/answer-client.mjs alice [ws://localhost:8765/ws]
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';
import { GatewayClient } from '../clients/js/dist/index.js';

const [userId = 'alice', url = 'ws://localhost:8765/ws'] = process.argv.slice(2);
const client = new GatewayClient({ url, userId, WebSocket });
const questions = [];

// Lines from standard input answer the oldest open prompt. When standard input ends (closed,
// /dev/null, a finished pipe), the client keeps running and only prints.
let terminal = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
terminal.on('line', (line) => void answerNext(line));
terminal.on('close', () => {
  terminal = null;
  console.log('(standard input closed: still listening, no longer asking)');
});

client.on('state', ({ state, reason, retryInMs, stopped }) => {
  const detail = [reason, retryInMs !== undefined ? `retrying in ${retryInMs} ms` : ''].filter(Boolean).join(', ');
  console.log(`[${state}]${detail ? ` ${detail}` : ''}`);
  if (!stopped) return;
  process.exitCode = reason === 'disconnect() was called' ? 0 : 1;
  terminal?.close();
});
client.on('frame', (frame) => console.log('<-', JSON.stringify(frame)));
client.on('prompt', (prompt) => {
  if (!terminal) return;
  questions.push(prompt);
  if (questions.length === 1) ask();
});
client.on('promptResolved', ({ prompt, by, state }) => {
  const index = questions.indexOf(prompt);
  if (index < 0) return;
  questions.splice(index, 1);
  if (by !== 'here') console.log(`(${prompt.callback_id} was settled elsewhere: ${state ?? 'no longer pending'})`);
  if (index === 0 && questions.length > 0) ask();
});

function ask() {
  const prompt = questions[0];
  terminal?.setPrompt(`${prompt.message} Proceed? [y/n] `);
  terminal?.prompt();
}

async function answerNext(line) {
  const prompt = questions[0];
  if (!prompt) return;
  const proceed = line.trim().toLowerCase().startsWith('y');
  try {
    await prompt.answer(proceed, proceed ? 'go on' : 'stop');
  } catch (err) {
    console.log(`not answered: ${err.code} ${err.message}`);
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    client.disconnect();
    terminal?.close();
  });
}

client.connect();
