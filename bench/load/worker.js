// Load generator process, driven by bench/run.js over IPC. It holds the benchmark's
// clients and runs its HTTP loops, so none of that work lands in the server's process.
import { createAgent, postJson } from '../lib/http.js';
import { payload } from '../lib/payload.js';
import { now, percentile, sleep } from '../lib/stats.js';
import { openClient } from './clients.js';

const state = {
  clients: [],
  closing: false,
  unexpectedCloses: 0,
  confirmsSent: 0,
  pushReceived: 0,
  rounds: new Map(), // fan-out seq -> { count, firstAt, lastAt }
};

const commands = {
  connect,
  roundStatus: ({ seq }) => state.rounds.get(seq) ?? { count: 0 },
  notifyLoops,
  pushLoops,
  counters: () => ({ clients: state.clients.length, unexpectedCloses: state.unexpectedCloses, confirmsSent: state.confirmsSent, pushReceived: state.pushReceived }),
  closeAll,
};

process.on('message', async ({ id, cmd, args }) => {
  try {
    const result = await commands[cmd](args ?? {});
    process.send({ id, ok: true, result });
  } catch (err) {
    process.send({ id, ok: false, error: err?.stack ?? String(err) });
  }
});
// The driver is gone (crashed or killed): nothing left to do.
process.on('disconnect', () => process.exit(0));

function onMessage(message, reply) {
  if (message.bench === 'fanout') return onFanout(message.seq);
  if (message.bench === 'push') {
    state.pushReceived++;
    return;
  }
  if (message.type === 'task_step_result' && reply) {
    state.confirmsSent++;
    reply({ action: 'confirm', callback_id: message.callback_id, proceed: true });
  }
}

function onFanout(seq) {
  let round = state.rounds.get(seq);
  if (!round) state.rounds.set(seq, (round = { count: 0, firstAt: now(), lastAt: 0 }));
  round.count++;
  round.lastAt = now();
  if (round.count === state.clients.length) process.send({ event: 'round', seq, ...round });
}

function onClose() {
  if (!state.closing) state.unexpectedCloses++;
}

/**
 * Opens one client per user id, `concurrency` handshakes at a time. The run's client
 * number n (firstIndex + i) binds to localAddresses[floor(n / perAddress)] when
 * addresses are given: one source address has only ~28k ephemeral ports.
 */
async function connect({ kind, baseUrl, userIds, firstIndex = 0, localAddresses, perAddress, concurrency, timeoutMs }) {
  const started = now();
  let next = 0;
  let failed = 0;
  let firstError;
  const openOne = async (i) => {
    const localAddress = localAddresses?.[Math.floor((firstIndex + i) / perAddress)];
    try {
      state.clients.push(await openClient(kind, { baseUrl, userId: userIds[i], localAddress, timeoutMs, onMessage, onClose }));
    } catch (err) {
      failed++;
      firstError ??= `${userIds[i]}${localAddress ? ` from ${localAddress}` : ''}: ${err.message}`;
    }
  };
  const lane = async () => {
    while (next < userIds.length) await openOne(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, userIds.length) }, lane));
  return { opened: userIds.length - failed, failed, firstError, ms: now() - started };
}

/**
 * Closed loops, one per user: POST /notify and wait for the decision, which this
 * process's own client of that user gives. Counts decisions that arrive inside the
 * measuring window (after the warm-up).
 */
async function notifyLoops({ baseUrl, users, warmupMs, durationMs }) {
  const agent = createAgent(users.length);
  const window = measuringWindow(warmupMs, durationMs);
  const latencies = [];
  const errors = { count: 0, first: undefined };
  const loop = async (userId) => {
    for (let step = 0; now() < window.end; step++) {
      const started = now();
      const body = {
        user_id: userId, task_id: `task-${userId}`, step,
        step_result: { step: 'validate', message: 'ok?', status: 'completed' }, timeout_seconds: 30,
      };
      const ok = await attempt(() => postJson(`${baseUrl}/notify`, body, { agent, timeoutMs: 35_000 }), (res) => res.body?.state === 'confirmed', errors);
      const finished = now();
      if (ok && window.contains(finished)) latencies.push(finished - started);
    }
  };
  await Promise.all(users.map(loop));
  agent.destroy();
  const seconds = (window.end - window.start) / 1000;
  return { roundTrips: latencies.length, perSecond: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors: errors.count, firstError: errors.first };
}

/**
 * `concurrency` closed loops posting to users in turn. The rate reported is what the
 * clients received inside the window; the loops then stop and the clients must catch
 * up with everything the server said it delivered, or the rate was not sustainable.
 */
async function pushLoops({ baseUrl, users, concurrency, warmupMs, durationMs, drainMs }) {
  const agent = createAgent(concurrency);
  const window = measuringWindow(warmupMs, durationMs, () => state.pushReceived);
  const latencies = [];
  const errors = { count: 0, first: undefined };
  let seq = 0;
  let reportedDelivered = 0;
  const loop = async () => {
    while (now() < window.end) {
      const n = seq++;
      const userId = users[n % users.length];
      const started = now();
      const ok = await attempt(() => postJson(`${baseUrl}/users/${encodeURIComponent(userId)}/messages`, payload('push', n), { agent, timeoutMs: 10_000 }), (res) => {
        reportedDelivered += res.body?.delivered ?? 0;
        return res.body?.delivered === 1;
      }, errors);
      const finished = now();
      if (ok && window.contains(finished)) latencies.push(finished - started);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  agent.destroy();
  const drainUntil = now() + drainMs;
  while (state.pushReceived < reportedDelivered && now() < drainUntil) await sleep(20);
  const received = window.endValue - window.startValue;
  const seconds = (window.end - window.start) / 1000;
  return {
    receivedInWindow: received, perSecond: received / seconds, requests: seq, p50: percentile(latencies, 50), p99: percentile(latencies, 99),
    reportedDelivered, receivedTotal: state.pushReceived, missing: reportedDelivered - state.pushReceived, errors: errors.count, firstError: errors.first,
  };
}

/** Runs one request; counts it as an error (with a short back-off) unless `isOk(res)`. */
async function attempt(send, isOk, errors) {
  try {
    const res = await send();
    if (res.status === 200 && isOk(res)) return true;
    errors.first ??= `HTTP ${res.status}: ${JSON.stringify(res.body).slice(0, 200)}`;
  } catch (err) {
    errors.first ??= err.message;
  }
  errors.count++;
  await sleep(20); // a server that refuses or fails must not turn the loop into a busy spin
  return false;
}

/**
 * The measuring window, which starts after the warm-up. Tells the driver when it
 * opens and closes so it can read the server's CPU time at the same moments, and
 * snapshots `sample()` then.
 */
function measuringWindow(warmupMs, durationMs, sample = () => 0) {
  const window = { start: now() + warmupMs, end: now() + warmupMs + durationMs, startValue: 0, endValue: 0 };
  window.contains = (t) => t >= window.start && t <= window.end;
  setTimeout(() => {
    window.start = now();
    window.startValue = sample();
    process.send({ event: 'window', phase: 'start' });
  }, warmupMs);
  setTimeout(() => {
    window.end = now();
    window.endValue = sample();
    process.send({ event: 'window', phase: 'end' });
  }, warmupMs + durationMs);
  return window;
}

async function closeAll() {
  state.closing = true;
  for (const client of state.clients) client.close();
  const closed = state.clients.length;
  state.clients = [];
  return { closed };
}
