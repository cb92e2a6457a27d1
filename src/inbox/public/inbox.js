// The inbox page: one user's pending prompts, their tasks and the notices, on the JS SDK
// (served from this gateway at /inbox/sdk/). Identity: ?user_id= (AUTH_MODE=none) or a
// token from ?token= or the sign-in field (AUTH_MODE=jwt).
import { GatewayClient } from '/inbox/sdk/index.js';
import { formatDuration, renderNotice, renderPromptCard, renderTaskRow, taskState } from './render.js';

const MAX_NOTICES = 30;
const authMode = document.querySelector('meta[name="inbox-auth-mode"]')?.content === 'jwt' ? 'jwt' : 'none';
const $ = (id) => document.getElementById(id);

const cards = new Map(); // callback_id -> { card, countdown, expiresAt }
// task_id -> { view, following, openPrompts, progress, lastBeatAt, lastActivityAt, outcome, cancelled }
const tasks = new Map();
let client = null;
let token = null; // AUTH_MODE=jwt: kept in memory only
let lastRtt = null;
let retryAt = null;

start();

function start() {
  const params = new URLSearchParams(location.search);
  if (authMode === 'jwt') {
    const token = params.get('token');
    if (token) {
      // Out of the address bar and history: a token is a credential.
      params.delete('token');
      history.replaceState(null, '', `${location.pathname}${params.size ? `?${params}` : ''}`);
      open({ token });
    } else {
      askForIdentity('Paste an access token to see your prompts.');
    }
    return;
  }
  const userId = params.get('user_id');
  if (userId) open({ userId });
  else askForIdentity('Enter your user ID to see your prompts.');
}

function askForIdentity(help) {
  $('app').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-help').textContent = help;
  const input = $('identity');
  if (authMode === 'jwt') {
    $('identity-label').textContent = 'Token';
    input.type = 'password';
  }
  input.focus();
  $('sign-in-form').addEventListener(
    'submit',
    (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!value) return;
      if (authMode === 'jwt') {
        $('sign-in').hidden = true;
        $('app').hidden = false;
        if (client) {
          token = value;
          client.connect();
        } else open({ token: value });
      } else {
        location.search = `?user_id=${encodeURIComponent(value)}`;
      }
    },
    { once: true },
  );
}


function open(identity) {
  $('sign-in').hidden = true;
  $('app').hidden = false;
  token = identity.token ?? null;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  client = new GatewayClient({
    url,
    ...(identity.userId !== undefined ? { userId: identity.userId } : { getToken: () => token }),
    pingIntervalMs: 10_000,
  });
  if (identity.userId !== undefined) showUser(identity.userId);

  client.on('state', showConnection);
  client.on('rtt', (rtt) => showConnection({ state: client.state, rtt }));
  client.on('prompt', addPrompt);
  client.on('promptResolved', ({ prompt, state }) => {
    removePrompt(prompt.callback_id);
    const entry = tasks.get(prompt.task_id);
    if (!entry) return;
    entry.openPrompts = Math.max(0, entry.openPrompts - 1);
    entry.outcome = { state, at: Date.now() };
    if (state === 'cancelled') entry.cancelled = true;
    showTaskState(entry);
  });
  client.on('vote', ({ prompt, votes, needed }) => cards.get(prompt.callback_id)?.view.setVotes(votes, needed));
  client.on('reminder', ({ prompt, reminder }) => cards.get(prompt.callback_id)?.view.setReminder(reminder));
  client.on('taskProgress', (frame) => {
    const entry = task(frame.task_id);
    entry.view.setProgress(frame.progress, frame.message);
    const progress = Number(frame.progress);
    if (Number.isFinite(progress)) entry.progress = progress;
    heardFrom(entry);
  });
  client.on('heartbeat', (frame) => {
    const entry = task(frame.task_id);
    entry.lastBeatAt = Date.now();
    heardFrom(entry);
    entry.view.setBeat(entry.lastBeatAt, Date.now());
  });
  client.on('taskCancelled', (frame) => {
    const entry = task(frame.task_id);
    entry.cancelled = true;
    showTaskState(entry);
    entry.view.setCancelled(frame.user_id);
  });
  client.on('notice', addNotice);
  // Beyond the kept history nothing brings back missed progress or notices: task state is on
  // the REST API, which takes an API key, not the user's token. The SDK re-syncs the prompts.
  client.on('resumed', ({ recovered }) => {
    if (!recovered) $('missed-updates').hidden = false;
  });
  $('missed-updates-dismiss').addEventListener('click', () => ($('missed-updates').hidden = true));
  client.on('state', ({ state, closeCode, stopped }) => {
    if (state === 'connected') {
      showUser(client.userId);
      for (const [taskId, entry] of tasks) if (!entry.following) follow(taskId, entry);
    }
    if (closeCode === 4001 && authMode === 'jwt') {
      client.disconnect();
      askForIdentity('Your session expired. Paste a new access token to continue.');
    }
    // 4003: the service refused the token; the client has stopped (retrying cannot help).
    if (closeCode === 4003 && stopped && authMode === 'jwt') {
      askForIdentity('That access token was refused. Paste a valid one to continue.');
    }
  });
  $('connection').addEventListener('click', () => {
    if (client.stopReason) client.connect();
  });
  setInterval(tick, 1000);
  client.connect();
}

function showUser(userId) {
  if (!userId) return;
  const who = $('who');
  who.hidden = false;
  who.replaceChildren('Signed in as ', Object.assign(document.createElement('strong'), { textContent: userId }));
}


function showConnection({ state, rtt, retryInMs, reason, stopped }) {
  const button = $('connection');
  const label = $('connection-label');
  if (rtt !== undefined) lastRtt = rtt;
  if (state === 'connected') {
    retryAt = null;
    button.dataset.state = 'connected';
    label.textContent = lastRtt === null ? 'Connected' : `Connected · ${lastRtt} ms`;
    button.title = 'Live: new prompts appear at once';
  } else if (stopped) {
    button.dataset.state = 'stopped';
    label.textContent = 'Disconnected · click to retry';
    button.title = reason ?? '';
  } else if (state === 'disconnected' && retryInMs !== undefined) {
    retryAt = Date.now() + retryInMs;
    button.dataset.state = 'reconnecting';
    label.textContent = 'Reconnecting…';
    button.title = reason ?? '';
  } else if (state === 'connecting') {
    button.dataset.state = retryAt === null && lastRtt === null ? 'connecting' : 'reconnecting';
    label.textContent = lastRtt === null ? 'Connecting…' : 'Reconnecting…';
  }
}

function addPrompt(prompt) {
  if (cards.has(prompt.callback_id)) return;
  const view = renderPromptCard(prompt, {
    onAnswer: async (input) => {
      await prompt.answer(input);
      // With several approvers an accepted answer is a vote: the card stays until it settles.
      if (prompt.voted) view.setVoted();
    },
  });
  const { card, countdown } = view;
  if (prompt.voted) view.setVoted();
  cards.set(prompt.callback_id, { card, countdown, view, expiresAt: prompt.expires_at * 1000 });
  $('prompt-list').append(card);
  const entry = task(prompt.task_id);
  entry.openPrompts++;
  heardFrom(entry);
  updateCounts();
  tick();
}

function removePrompt(callbackId) {
  const entry = cards.get(callbackId);
  if (!entry) return;
  cards.delete(callbackId);
  entry.card.classList.add('leaving');
  setTimeout(() => entry.card.remove(), 200);
  updateCounts();
}

function task(taskId) {
  let entry = tasks.get(taskId);
  if (entry) return entry;
  const view = renderTaskRow(taskId, { onCancel: () => client.cancelTask(taskId), onDismiss: () => dismissTask(taskId) });
  const now = Date.now();
  entry = { view, following: false, openPrompts: 0, progress: null, lastBeatAt: null, lastActivityAt: now, outcome: null, cancelled: false };
  tasks.set(taskId, entry);
  $('task-list').prepend(view.row);
  $('no-tasks').hidden = true;
  follow(taskId, entry);
  return entry;
}

/** A prompt, progress or a heartbeat: the task is going on (again). */
function heardFrom(entry) {
  entry.lastActivityAt = Date.now();
  showTaskState(entry);
}

function showTaskState(entry) {
  entry.view.setState(taskState(entry, Date.now()));
}

/** A finished or cancelled task leaves the panel, and the page stops following it. */
function dismissTask(taskId) {
  const entry = tasks.get(taskId);
  if (!entry) return;
  tasks.delete(taskId);
  entry.view.row.remove();
  $('no-tasks').hidden = tasks.size > 0;
  if (entry.following && client.state === 'connected') client.unsubscribeTask(taskId).catch(() => {});
}

/** Progress and heartbeats sent to a task's subscribers reach the page once it follows the task. */
function follow(taskId, entry) {
  if (client.state !== 'connected') return;
  entry.following = true;
  client.subscribeTask(taskId).then(
    () => (entry.view.row.dataset.following = 'true'),
    () => (entry.following = false),
  );
}

function addNotice(frame) {
  const list = $('notice-list');
  list.prepend(renderNotice(frame, Date.now()));
  while (list.children.length > MAX_NOTICES) list.lastElementChild.remove();
  $('no-notices').hidden = true;
}

function updateCounts() {
  const count = cards.size;
  $('prompt-count').textContent = String(count);
  $('empty').hidden = count > 0;
  document.title = count > 0 ? `(${count}) Task inbox` : 'Task inbox';
}

/** Once a second: countdowns to each prompt's timeout, the heartbeat ages and the task states. */
function tick() {
  const serverNow = Date.now() + (client?.serverClockOffsetMs ?? 0);
  for (const { countdown, expiresAt } of cards.values()) {
    const left = expiresAt - serverNow;
    countdown.textContent = left > 0 ? `Times out in ${formatDuration(left)}` : 'Timing out…';
    countdown.classList.toggle('soon', left < 60_000);
  }
  for (const entry of tasks.values()) {
    showTaskState(entry);
    entry.view.setBeat(entry.lastBeatAt, Date.now());
  }
}
