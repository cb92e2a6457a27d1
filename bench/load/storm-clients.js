// A load process of the reconnect storm (bench/scenarios/storm.js), driven over IPC: it holds
// a share of the storm's clients, each reconnecting exactly as its library does on its own
// (the gateway's JS SDK: full-jitter back-off and resume; socket.io-client: its default
// reconnection), and records every raw frame and handshake. One process holds at most a few
// thousand sockets, so the storm is not bound by one process's file limit or one core.
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { GatewayClient } from '../../clients/js/dist/index.js';
import { sleep } from '../lib/stats.js';

/** Handshakes in flight while the clients first connect. */
const CONNECT_BATCH = 200;

const users = [];

const commands = {
  open,
  progress: ({ since }) => progressSince(since),
  report: ({ since, acknowledged }) => reportSince(since, acknowledged),
  closeAll,
};

process.on('message', async ({ id, cmd, args }) => {
  try {
    process.send({ id, ok: true, result: await commands[cmd](args ?? {}) });
  } catch (err) {
    process.send({ id, ok: false, error: err?.stack ?? String(err) });
  }
});
process.on('disconnect', () => process.exit(0));

/** Opens `ids` as clients of `kind` ('sdk' or 'socketio') from `localAddress`; resolves when all are connected. */
async function open({ kind, url, ids, localAddress, timeoutMs }) {
  for (let i = 0; i < ids.length; i += CONNECT_BATCH) {
    const batch = ids.slice(i, i + CONNECT_BATCH).map((id) => (kind === 'socketio' ? new SocketIoUser(id, url, localAddress) : new SdkUser(id, url, localAddress)));
    users.push(...batch);
    const deadline = Date.now() + timeoutMs;
    while (!batch.every((user) => user.connected)) {
      if (Date.now() > deadline) throw new Error(`${batch.filter((user) => !user.connected).length} of ${batch.length} clients not connected after ${timeoutMs} ms`);
      await sleep(50);
    }
  }
  return users.length;
}

/** How many clients lost their connection after `since`, and how many of those are back (and resumed). */
function progressSince(since) {
  const orphans = users.filter((user) => user.lostAt !== null && user.lostAt >= since);
  const back = orphans.filter((user) => user.connected && user.backAfter(since));
  return { orphans: orphans.length, back: back.length };
}

/** What the driver reports, checked against the pushes the server acknowledged (a Map of user id to seqs). */
function reportSince(since, acknowledged) {
  const orphans = users.filter((user) => user.lostAt !== null && user.lostAt >= since);
  let lost = 0;
  let lostByOrphans = 0;
  for (const user of users) {
    const missing = (acknowledged.get(user.id) ?? []).filter((seq) => !user.seqs.has(seq)).length;
    lost += missing;
    if (user.lostAt !== null && user.lostAt >= since) lostByOrphans += missing;
  }
  return {
    orphans: orphans.length,
    lastBackAt: Math.max(0, ...orphans.map((user) => user.backAt)),
    backAfterMs: orphans.map((user) => user.backAt - since),
    handshakesMs: orphans.flatMap((user) => user.handshakesAfter(since)),
    lost,
    lostByOrphans,
    duplicated: users.reduce((sum, user) => sum + user.duplicates, 0),
    outOfOrder: users.reduce((sum, user) => sum + user.outOfOrder, 0),
    notRecovered: orphans.filter((user) => user.notRecoveredAfter(since)).length,
    refusedWith1013: orphans.reduce((sum, user) => sum + user.closes.filter((close) => close.at >= since && close.code === 1013).length, 0),
  };
}

function closeAll() {
  for (const user of users) user.close();
  users.length = 0;
}

/** What every storm client records, whatever its library: raw frames, losses, handshakes. */
class StormUser {
  seqs = new Set();
  duplicates = 0;
  outOfOrder = 0;
  lastSeq = -1;
  closes = [];
  connected = false;
  lostAt = null;
  backAt = 0;
  attempts = [];

  constructor(id) {
    this.id = id;
  }

  backAfter(t) {
    return this.backAt >= t;
  }

  handshakesAfter(t) {
    return this.attempts.filter((a) => a.start >= t && a.end !== null).map((a) => a.end - a.start);
  }

  notRecoveredAfter() {
    return false;
  }

  attemptStarted() {
    this.attempts.push({ start: Date.now(), end: null });
  }

  attemptSucceeded() {
    const attempt = this.attempts.at(-1);
    if (attempt && attempt.end === null) attempt.end = Date.now();
  }

  frame(frame) {
    if (frame?.bench !== 'storm' || typeof frame.seq !== 'number') return;
    if (this.seqs.has(frame.seq)) this.duplicates++;
    else if (frame.seq < this.lastSeq) this.outOfOrder++;
    this.seqs.add(frame.seq);
    this.lastSeq = Math.max(this.lastSeq, frame.seq);
  }
}

/** The gateway's JS SDK, unchanged; raw frames are read before the SDK's own duplicate check. */
class SdkUser extends StormUser {
  resumed = [];

  constructor(id, url, localAddress) {
    super(id);
    const user = this;
    class RecordingWebSocket extends WebSocket {
      constructor(address, protocols) {
        super(address, protocols, { perMessageDeflate: false, localAddress });
        this.on('message', (data) => user.frame(JSON.parse(String(data))));
        this.on('close', (code) => user.closes.push({ code, at: Date.now() }));
      }
    }
    this.client = new GatewayClient({ url: `${url.replace(/^http/, 'ws')}/ws`, userId: id, WebSocket: RecordingWebSocket, pingIntervalMs: 0, ...(process.env.BENCH_STORM_HANDSHAKE_TIMEOUT_MS && { handshakeTimeoutMs: Number(process.env.BENCH_STORM_HANDSHAKE_TIMEOUT_MS) }) });
    this.client.on('state', (change) => {
      if (change.state === 'connecting') this.attemptStarted();
      if (change.state === 'connected') this.attemptSucceeded();
      this.connected = change.state === 'connected';
      if (change.state === 'disconnected' && change.previous === 'connected') this.lostAt = Date.now();
    });
    // Back means resumed: the user stream's catch-up came (with `recovered`).
    this.client.on('resumed', (frame) => {
      this.resumed.push({ recovered: frame.recovered, at: Date.now() });
      if (frame.stream === 'user') this.backAt = Date.now();
    });
    this.client.connect();
  }

  notRecoveredAfter(t) {
    return this.resumed.some((resume) => resume.at >= t && resume.recovered !== true);
  }

  close() {
    this.client.disconnect();
  }
}

/**
 * socket.io-client as its documentation shows it (WebSocket transport, default reconnection:
 * 1 s doubling to 5 s, randomization 0.5). Socket.IO on redis-adapter keeps nothing for a
 * disconnected client, so back means connected again, and what was pushed meanwhile is lost.
 */
class SocketIoUser extends StormUser {
  constructor(id, url, localAddress) {
    super(id);
    this.socket = io(url, { transports: ['websocket'], query: { user_id: id }, forceNew: true, localAddress });
    this.attemptStarted();
    this.socket.io.on('reconnect_attempt', () => this.attemptStarted());
    this.socket.on('connect', () => {
      this.attemptSucceeded();
      this.connected = true;
      if (this.lostAt !== null) this.backAt = Date.now();
    });
    this.socket.on('disconnect', () => {
      this.connected = false;
      this.lostAt = Date.now();
      this.closes.push({ code: null, at: Date.now() });
    });
    this.socket.on('message', (message) => this.frame(message));
  }

  close() {
    this.socket.disconnect();
  }
}
