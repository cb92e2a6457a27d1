// A user's client for the walk-through, built on the SDK (clients/js): prints what arrives
// and asks on the terminal whether to proceed with each prompt.
//   npm run build && node examples/answer-client.mjs alice [ws://localhost:8765/ws]
// Heartbeats and task progress, which can arrive every few seconds, are one line that is
// rewritten in place on a terminal; while a prompt waits for an answer they are only
// counted (and shown in the prompt on a terminal), so the question stays the last line.
import { clearLine, createInterface, cursorTo } from 'node:readline';
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
  print('(standard input closed: still listening, no longer asking)');
});

const isTerminal = Boolean(process.stdout.isTTY);
// The last heartbeat or progress line, and how many arrived while the open prompt waits.
let ticker = '';
let tickerOnScreen = false;
let promptOnScreen = false;
let ticksWhileAsking = 0;

client.on('state', ({ state, reason, retryInMs, stopped }) => {
  const detail = [reason, retryInMs !== undefined ? `retrying in ${retryInMs} ms` : ''].filter(Boolean).join(', ');
  print(`[${state}]${detail ? ` ${detail}` : ''}`);
  if (!stopped) return;
  process.exitCode = reason === 'disconnect() was called' ? 0 : 1;
  terminal?.close();
});
client.on('frame', (frame) => {
  if (frame.type === 'heartbeat' || frame.type === 'task_progress') tick(frame);
  else print(`<- ${JSON.stringify(frame)}`);
});
client.on('prompt', (prompt) => {
  if (!terminal) return;
  questions.push(prompt);
  if (questions.length === 1) ask();
});
client.on('promptResolved', ({ prompt, by, state }) => {
  const index = questions.indexOf(prompt);
  if (index < 0) return;
  questions.splice(index, 1);
  if (by !== 'here') print(`(${prompt.callback_id} was settled elsewhere: ${state ?? 'no longer pending'})`);
  if (index !== 0) return;
  if (ticksWhileAsking > 0) print(`(${ticksWhileAsking} heartbeat and progress updates while asking; the last: ${ticker})`);
  if (questions.length > 0) ask();
});

function ask() {
  ticksWhileAsking = 0;
  showPrompt();
}

function showPrompt() {
  const prompt = questions[0];
  if (!terminal || !prompt) return;
  const status = isTerminal && ticker ? `(${ticker}) ` : '';
  terminal.setPrompt(`${status}${prompt.message} Proceed? [y/n] `);
  terminal.prompt(true);
  promptOnScreen = true;
}

/** A line of output that leaves an open prompt below it, with what the user has typed so far. */
function print(line) {
  const asking = terminal && questions.length > 0;
  if (isTerminal && (asking || tickerOnScreen || promptOnScreen)) {
    clearLine(process.stdout, 0);
    cursorTo(process.stdout, 0);
  }
  tickerOnScreen = promptOnScreen = false;
  console.log(line);
  if (asking) showPrompt();
}

/** A heartbeat or progress frame: one compact line, rewritten in place; only counted while asking. */
function tick(frame) {
  const progress = frame.type === 'task_progress' ? `${frame.progress}%${frame.message ? ` ${frame.message}` : ''}` : frame.message;
  ticker = `${frame.type === 'heartbeat' ? 'heartbeat' : 'progress'} ${frame.task_id}: ${progress} at ${new Date().toLocaleTimeString()}`;
  if (terminal && questions.length > 0) {
    ticksWhileAsking++;
    if (isTerminal) {
      clearLine(process.stdout, 0);
      cursorTo(process.stdout, 0);
      showPrompt();
    }
    return;
  }
  if (isTerminal) {
    clearLine(process.stdout, 0);
    cursorTo(process.stdout, 0);
    process.stdout.write(ticker);
    tickerOnScreen = true;
  } else {
    console.log(`.. ${ticker}`);
  }
}

async function answerNext(line) {
  const prompt = questions[0];
  if (!prompt) return;
  const proceed = line.trim().toLowerCase().startsWith('y');
  try {
    await prompt.answer(proceed, proceed ? 'go on' : 'stop');
  } catch (err) {
    print(`not answered: ${err.code} ${err.message}`);
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    client.disconnect();
    terminal?.close();
  });
}

client.connect();
