// DOM builders for the inbox page. Every text goes in through textContent: nothing the
// server or a task service sends is ever parsed as HTML.
import { renderForm, renderReminder, renderVotes } from './approval.js';

/** el('div', { class: 'x', dataset: { id: '1' } }, child, 'text') */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name === 'text') node.textContent = String(value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

const MAX_TABLE_ROWS = 24;

function isPrimitive(value) {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

/** A flat object as a small table, anything else as formatted JSON; null shows nothing. */
export function renderResult(result) {
  if (result === null || result === undefined) return null;
  if (isPrimitive(result)) return el('div', { class: 'result' }, el('p', { class: 'message', text: String(result) }));
  const entries = typeof result === 'object' && !Array.isArray(result) ? Object.entries(result) : null;
  if (entries && entries.length > 0 && entries.length <= MAX_TABLE_ROWS && entries.every(([, v]) => isPrimitive(v))) {
    const rows = entries.map(([key, value]) => el('tr', {}, el('th', { scope: 'row', text: humanize(key) }), el('td', { text: formatValue(value) })));
    return el('div', { class: 'result' }, el('table', { 'aria-label': 'Step result' }, el('tbody', {}, ...rows)));
  }
  return el('div', { class: 'result' }, el('pre', { 'aria-label': 'Step result', text: JSON.stringify(result, null, 2) }));
}

function humanize(key) {
  const words = key.replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function formatValue(value) {
  if (typeof value === 'number') return value.toLocaleString();
  if (value === null) return '—';
  return String(value);
}

/** "4:05", "1:02:03"; the time left before a prompt times out. */
export function formatDuration(ms) {
  const total = Math.max(0, Math.round(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

export function formatAgo(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `${minutes} min ago` : `${Math.round(minutes / 60)} h ago`;
}

function isFailed(prompt) {
  return prompt.status === 'failed' || prompt.status === 'error' || Boolean(prompt.error_code);
}

/**
 * One prompt: what happened, the result, and the decision: Proceed / Cancel, or the task
 * service's options as buttons; a form to fill when it sent one; the votes so far when
 * several people decide; a mark when a reminder showed it again. `onAnswer({ proceed,
 * option, data, feedback })` sends the answer; the form's data goes only with a proceeding one.
 */
export function renderPromptCard(prompt, { onAnswer }) {
  const failed = isFailed(prompt);
  const statusClass = failed ? 'bad' : prompt.completed || prompt.status === 'completed' ? 'ok' : 'neutral';
  const feedbackId = `feedback-${cssSafe(prompt.callback_id)}`;
  const titleId = `title-${cssSafe(prompt.callback_id)}`;
  const feedback = el('textarea', { id: feedbackId, rows: 1, maxlength: 4096, placeholder: 'Optional note for the task' });
  const choices = Array.isArray(prompt.options) && prompt.options.length > 0
    ? prompt.options.map((option) => ({ option, proceed: option.proceed === true, label: String(option.label), description: option.description }))
    : [{ proceed: false, label: 'Cancel' }, { proceed: true, label: 'Proceed' }];
  const buttons = choices.map((choice) => {
    const describedBy = choice.description ? `${titleId}-${cssSafe(choice.option.id)}` : undefined;
    const button = el('button', { type: 'button', class: `button${choice.proceed ? ' primary' : ''}`, text: choice.label, 'aria-describedby': describedBy, dataset: choice.option ? { option: choice.option.id } : {} });
    return { choice, button, help: describedBy ? el('span', { class: 'option-help', id: describedBy, text: String(choice.description) }) : null };
  });
  const form = renderForm(prompt.form);
  const votes = prompt.policy || prompt.approvers || (prompt.votes && prompt.votes.length > 0) ? renderVotes(prompt) : null;
  const reminder = renderReminder();
  reminder.update(prompt.reminder);
  const countdown = el('span', { class: 'countdown' });
  const problem = el('p', { class: 'card-error', role: 'alert', hidden: true });
  const waiting = el('p', { class: 'voted-note muted', role: 'status', hidden: true, text: 'Your vote is in. Waiting for the other approvers.' });
  const card = el(
    'article',
    { class: `card${failed ? ' failed' : ''}`, 'aria-labelledby': titleId, dataset: { callbackId: prompt.callback_id, taskId: prompt.task_id } },
    el(
      'div',
      { class: 'card-head' },
      el('span', { class: 'step-number', text: `Step ${prompt.step}` }),
      el('h3', { class: 'step-name', id: titleId, text: prompt.step_name }),
      el('span', { class: 'chip', title: 'Task', text: prompt.task_id }),
      el('span', { class: `status ${statusClass}`, text: prompt.status }),
      reminder.element,
    ),
    el('p', { class: 'message', text: prompt.message }),
    prompt.error_code || prompt.error_message
      ? el('div', { class: 'error-box', role: 'note' }, prompt.error_code ? el('code', { text: prompt.error_code }) : null, el('span', { text: prompt.error_message ?? '' }))
      : null,
    renderResult(prompt.result),
    form?.element ?? null,
    votes?.element ?? null,
    el('div', { class: 'feedback' }, el('label', { for: feedbackId, text: 'Feedback' }), feedback),
    ...buttons.filter((b) => b.help).map((b) => el('p', { class: 'option-help-row' }, el('strong', { text: `${b.choice.label}: ` }), b.help)),
    el('div', { class: 'card-foot' }, countdown, el('div', { class: 'actions' }, ...buttons.map((b) => b.button))),
    problem,
    waiting,
  );

  const setDisabled = (disabled) => {
    for (const { button } of buttons) button.disabled = disabled;
    feedback.disabled = disabled;
    form?.setDisabled(disabled);
  };
  const answer = async (choice) => {
    setDisabled(true);
    problem.hidden = true;
    form?.clearErrors();
    const input = { proceed: choice.proceed, feedback: feedback.value.trim() || undefined };
    if (choice.option) input.option = choice.option.id;
    if (form && choice.proceed) input.data = form.data();
    try {
      await onAnswer(input);
    } catch (err) {
      setDisabled(false);
      if (err?.code === 'invalid_answer' && err.field && form?.showError(err.field, err.message)) return;
      problem.textContent = describeAnswerError(err);
      problem.hidden = false;
    }
  };
  for (const { choice, button } of buttons) button.addEventListener('click', () => void answer(choice));
  if (prompt.reminder) card.dataset.reminder = String(prompt.reminder);
  return {
    card,
    countdown,
    /** A vote arrived (`confirmation_vote`), or this user's own was accepted. */
    setVotes(list, needed) {
      votes?.update(list, needed);
    },
    setVoted() {
      setDisabled(true);
      waiting.hidden = false;
    },
    setReminder(n) {
      reminder.update(n);
      card.dataset.reminder = String(n);
    },
  };
}

function describeAnswerError(err) {
  switch (err?.code) {
    case 'already_resolved':
    case 'callback_not_found':
      return 'This step was already decided.';
    case 'not_connected':
    case 'disconnected':
    case 'timeout':
      return 'Not sent: the connection is down. Try again once it is back.';
    case 'forbidden':
      return 'This step belongs to another user.';
    case 'not_an_approver':
      return 'You are not one of the approvers of this step.';
    case 'self_approval_forbidden':
      return 'You requested this step, so someone else has to approve it.';
    case 'already_voted':
      return 'Your vote on this step is already in.';
    case 'invalid_answer':
      return `Not accepted: ${err.message}`;
    default:
      return `Not sent: ${err?.message ?? 'unknown error'}`;
  }
}

function cssSafe(text) {
  return text.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** How long after its last heartbeat a task still counts as beating. */
export const BEAT_ALIVE_MS = 90_000;

export const TASK_STATE_LABELS = { running: 'Running', waiting: 'Waiting for you', finished: 'Finished', cancelled: 'Cancelled' };

/**
 * What the page can tell about a task from what it was sent: `waiting` while one of its
 * prompts is open here; `cancelled` once cancelled, or when its last prompt was answered
 * Cancel (the task stops) with nothing heard since; `finished` at 100 %, after a last
 * prompt answered Proceed or timed out with nothing heard since, or once its heartbeats
 * stopped; otherwise `running`. Activity after an answer (progress, a heartbeat) means the
 * task went on.
 */
export function taskState(task, now) {
  if (task.cancelled) return 'cancelled';
  if (task.openPrompts > 0) return 'waiting';
  if (task.progress !== null && task.progress >= 100) return 'finished';
  if (task.outcome && task.lastActivityAt <= task.outcome.at) {
    return task.outcome.state === 'rejected' || task.outcome.state === 'cancelled' ? 'cancelled' : 'finished';
  }
  const quiet = now - task.lastActivityAt >= BEAT_ALIVE_MS;
  if (task.lastBeatAt !== null && now - task.lastBeatAt >= BEAT_ALIVE_MS && quiet) return 'finished';
  return 'running';
}

/** A task's row: its state, progress bar, heartbeat indicator, and Cancel task or Dismiss. */
export function renderTaskRow(taskId, { onCancel, onDismiss }) {
  const fill = el('div', { class: 'bar-fill' });
  const bar = el('div', { class: 'bar', role: 'progressbar', 'aria-label': `Progress of ${taskId}`, 'aria-valuemin': 0, 'aria-valuemax': 100 }, fill);
  const value = el('span', { class: 'bar-value', text: '' });
  const message = el('span', { class: 'task-message' });
  const beat = el('span', { class: 'beat', hidden: true });
  const error = el('p', { class: 'task-error', role: 'alert', hidden: true });
  const state = el('span', { class: 'task-state', text: TASK_STATE_LABELS.running });
  const cancel = el('button', { type: 'button', class: 'button small danger', text: 'Cancel task' });
  const dismiss = el('button', { type: 'button', class: 'button small', text: 'Dismiss', 'aria-label': `Dismiss ${taskId}`, hidden: true });
  const row = el(
    'li',
    { class: 'task', dataset: { taskId, state: 'running' } },
    el('div', { class: 'task-head' }, el('span', { class: 'task-id', text: taskId }), cancel, dismiss),
    el('div', { class: 'bar-row' }, bar, value),
    el('div', { class: 'task-meta' }, state, beat, message),
    error,
  );
  let armedUntil = 0;
  cancel.addEventListener('click', async () => {
    // Two clicks: cancelling a task cannot be undone.
    if (Date.now() > armedUntil) {
      armedUntil = Date.now() + 4000;
      cancel.textContent = 'Confirm cancel';
      cancel.classList.add('armed');
      setTimeout(() => {
        if (Date.now() >= armedUntil && !cancel.disabled) disarm();
      }, 4100);
      return;
    }
    cancel.disabled = true;
    error.hidden = true;
    try {
      await onCancel();
    } catch (err) {
      error.textContent = `Could not cancel: ${err?.code === 'forbidden' ? 'this task is not yours' : err?.message ?? 'unknown error'}`;
      error.hidden = false;
      cancel.disabled = false;
      disarm();
    }
  });
  dismiss.addEventListener('click', () => onDismiss());
  function disarm() {
    armedUntil = 0;
    cancel.textContent = 'Cancel task';
    cancel.classList.remove('armed');
  }
  return {
    row,
    setProgress(progress, text) {
      const percent = Math.max(0, Math.min(100, Math.round(Number(progress))));
      if (!Number.isFinite(percent)) return;
      bar.setAttribute('aria-valuenow', String(percent));
      bar.setAttribute('aria-valuetext', `${percent}%`);
      fill.style.width = `${percent}%`;
      value.textContent = `${percent}%`;
      if (text) message.textContent = text;
    },
    setBeat(lastBeatAt, now) {
      if (lastBeatAt === null || row.dataset.state === 'cancelled') return;
      beat.hidden = false;
      const age = now - lastBeatAt;
      const alive = age < BEAT_ALIVE_MS && row.dataset.state !== 'finished';
      beat.classList.toggle('alive', alive);
      beat.textContent = alive ? `Still running · ${formatAgo(age)}` : `Last heartbeat ${formatAgo(age)}`;
    },
    setCancelled(by) {
      beat.classList.remove('alive');
      beat.hidden = false;
      beat.textContent = by ? `Cancelled by ${by}` : 'Cancelled';
    },
    /** The bar moves only while the task runs; a task that is over can be dismissed. */
    setState(next) {
      if (row.dataset.state === next) return;
      row.dataset.state = next;
      row.classList.toggle('cancelled', next === 'cancelled');
      state.textContent = TASK_STATE_LABELS[next];
      const over = next === 'finished' || next === 'cancelled';
      cancel.hidden = over;
      dismiss.hidden = !over;
      if (over) beat.classList.remove('alive');
      if (!bar.hasAttribute('aria-valuenow')) bar.setAttribute('aria-valuetext', TASK_STATE_LABELS[next]);
    },
  };
}

export function renderNotice(frame, receivedAt) {
  const severity = ['info', 'success', 'warning', 'error'].includes(frame.severity) ? frame.severity : 'info';
  const kind = frame.type === 'personal_notification' ? 'For you' : 'Everyone';
  return el(
    'li',
    { class: `notice ${severity}`, dataset: { severity } },
    el(
      'div',
      { class: 'notice-body' },
      el('span', { text: String(frame.message ?? '') }),
      el(
        'span',
        { class: 'notice-meta' },
        el('span', { class: 'severity', text: severity }),
        ` · ${kind} · ${new Date(receivedAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`,
      ),
    ),
  );
}
