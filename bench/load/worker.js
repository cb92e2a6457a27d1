// Load generator process, driven by bench/run.js over IPC. It holds the benchmark's
// clients and runs its HTTP loops, so none of that work lands in the server's process.
import { LeanHttpConnection } from '../lib/lean-http.js';
import { confirmAnswer, notifyBody, payload } from '../lib/payload.js';
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

/** A backstop on top of the window's time limit: no loop sends more requests than this. */
const MAX_REQUESTS_PER_LOOP = 1_000_000;

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
    reply(confirmAnswer(message.callback_id, state.confirmsSent++));
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
 * addresses are given: one source address has only ~28k ephemeral ports. It connects
 * to baseUrls[n mod baseUrls.length]: a cluster's instances in turn.
 */
async function connect({ kind, baseUrls, userIds, firstIndex = 0, localAddresses, perAddress, concurrency, timeoutMs }) {
  const started = now();
  let next = 0;
  let failed = 0;
  let firstError;
  const openOne = async (i) => {
    const localAddress = localAddresses?.[Math.floor((firstIndex + i) / perAddress)];
    const baseUrl = baseUrls[(firstIndex + i) % baseUrls.length];
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
 * measuring window (after the warm-up). Loop i posts to callerUrls[i] when given (a
 * cluster instance other than the user's), else to baseUrl.
 */
async function notifyLoops({ baseUrl, callerUrls, headers, users, warmupMs, durationMs }) {
  const window = measuringWindow(warmupMs, durationMs);
  const latencies = [];
  const errors = { count: 0, first: undefined, kinds: {} };
  let completed = 0;
  const loop = async (userId, i) => {
    const http = new LeanHttpConnection(callerUrls?.[i] ?? baseUrl, headers);
    for (let step = 0; !window.closed && step < MAX_REQUESTS_PER_LOOP; step++) {
      const body = notifyBody(userId, step);
      const started = now();
      const ok = await attempt(() => http.post('/notify', body, 35_000), (res) => res.body?.state === 'confirmed', errors);
      const finished = now();
      if (ok) completed++;
      if (ok && window.contains(finished)) latencies.push(finished - started);
    }
    http.close();
  };
  await Promise.all(users.map(loop));
  await window.done;
  const seconds = (window.end - window.start) / 1000;
  return { completed, roundTrips: latencies.length, perSecond: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors: errors.count, firstError: errors.first, errorKinds: relativeTo(errors.kinds, window.start) };
}

/**
 * `concurrency` closed loops posting to users in turn. The rate reported is what the
 * clients received inside the window; the loops then stop and the clients must catch
 * up with everything the server said it delivered, or the rate was not sustainable.
 */
async function pushLoops({ baseUrl, headers, users, concurrency, warmupMs, durationMs, drainMs }) {
  const window = measuringWindow(warmupMs, durationMs, () => state.pushReceived);
  const latencies = [];
  const errors = { count: 0, first: undefined, kinds: {} };
  let seq = 0;
  let reportedDelivered = 0;
  const delivered = (res) => {
    reportedDelivered += res.body?.delivered ?? 0;
    return res.body?.delivered === 1;
  };
  const loop = async () => {
    const http = new LeanHttpConnection(baseUrl, headers);
    for (let sent = 0; !window.closed && sent < MAX_REQUESTS_PER_LOOP; sent++) {
      const n = seq++;
      const path = `/users/${encodeURIComponent(users[n % users.length])}/messages`;
      const started = now();
      const ok = await attempt(() => http.post(path, payload('push', n), 10_000), delivered, errors);
      const finished = now();
      if (ok && window.contains(finished)) latencies.push(finished - started);
    }
    http.close();
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  await window.done;
  const drainUntil = now() + drainMs;
  while (state.pushReceived < reportedDelivered && now() < drainUntil) await sleep(20);
  const received = window.endValue - window.startValue;
  const seconds = (window.end - window.start) / 1000;
  return {
    receivedInWindow: received, perSecond: received / seconds, requests: seq, completed: reportedDelivered, p50: percentile(latencies, 50), p99: percentile(latencies, 99),
    reportedDelivered, receivedTotal: state.pushReceived, missing: reportedDelivered - state.pushReceived, errors: errors.count, firstError: errors.first, errorKinds: relativeTo(errors.kinds, window.start),
  };
}

/**
 * Runs one request; counts it as an error (with a short back-off) unless `isOk(res)`.
 * Errors are tallied by kind, with when each kind first happened (ms into the window).
 */
async function attempt(send, isOk, errors) {
  let kind;
  try {
    const res = await send();
    if (res.status === 200 && isOk(res)) return true;
    kind = `HTTP ${res.status}: ${JSON.stringify(res.body).slice(0, 160)}`;
  } catch (err) {
    kind = err.message;
  }
  errors.count++;
  errors.first ??= kind;
  const key = kind.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>');
  const tally = (errors.kinds[key] ??= { count: 0, firstAt: now() });
  tally.count++;
  await sleep(20); // a server that refuses or fails must not turn the loop into a busy spin
  return false;
}

/**
 * The measuring window, which opens after the warm-up. Tells the driver when it opens
 * and closes, so it can read the server's CPU time at the same moments, and snapshots
 * `sample()` then. Callers await `done` before answering, so no result can reach the
 * driver before the window's end does.
 */
function measuringWindow(warmupMs, durationMs, sample = () => 0) {
  const window = { start: now() + warmupMs, end: Infinity, closed: false, startValue: 0, endValue: 0 };
  window.contains = (t) => t >= window.start && t <= window.end;
  let markClosed;
  window.done = new Promise((resolve) => (markClosed = resolve));
  setTimeout(() => {
    window.start = now();
    window.startValue = sample();
    process.send({ event: 'window', phase: 'start' });
  }, warmupMs);
  setTimeout(() => {
    window.end = now();
    window.endValue = sample();
    window.closed = true;
    process.send({ event: 'window', phase: 'end' });
    markClosed();
  }, warmupMs + durationMs);
  return window;
}

function relativeTo(kinds, start) {
  return Object.fromEntries(Object.entries(kinds).map(([kind, t]) => [kind, { count: t.count, firstAfterMs: Math.round(t.firstAt - start) }]));
}

async function closeAll() {
  state.closing = true;
  for (const client of state.clients) client.close();
  const closed = state.clients.length;
  state.clients = [];
  return { closed };
}
