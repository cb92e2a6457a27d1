import type { Confirmation } from '../confirmations/confirmation.js';
import type { LinkDecision, LinkState } from './action-links.service.js';

/** A page to send: its status and HTML. */
export interface LinkPage {
  status: number;
  html: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text as HTML text or attribute value: nothing in it can open a tag or an attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/**
 * The whole document. No script and no inline style (the CSP allows neither): the
 * stylesheet is this route's own file, linked relative to the link's URL. The form has no
 * `action` (it posts to the URL it came from, the link itself) and no fields: the token in
 * the URL is the capability, so there is nothing a cross-site form could add. The empty
 * icon keeps the browser from asking for /favicon.ico (an API route, which wants a key).
 */
function page(title: string, body: string, className = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/links.css">
</head>
<body>
<main class="card${className ? ` ${className}` : ''}">
${body}
</main>
</body>
</html>
`;
}

function prompt(confirmation: Confirmation): string {
  return `<p class="step">Step <strong>${escapeHtml(confirmation.stepName)}</strong> of task <strong>${escapeHtml(confirmation.taskId)}</strong></p>
<p class="message">${escapeHtml(confirmation.message)}</p>`;
}

function choiceLabel(choice: { id: string; proceed: boolean; label?: string; option?: boolean }): string {
  if (choice.option) return choice.label ?? choice.id;
  return choice.proceed ? 'Approve' : 'Reject';
}

const SETTLED_TEXT: Record<string, string> = {
  confirmed: 'It was approved.',
  rejected: 'It was rejected.',
  cancelled: 'Its task was cancelled.',
};

/** The page for any state a link can be in; `decided` only after a POST. */
export function linkPage(state: LinkState | LinkDecision | { kind: 'disabled' }): LinkPage {
  switch (state.kind) {
    case 'open': {
      const label = choiceLabel(state.choice);
      return {
        status: 200,
        html: page(
          `${label}?`,
          `<h1>${escapeHtml(label)}?</h1>
${prompt(state.confirmation)}
<form method="post"><button type="submit" class="choice ${state.choice.proceed ? 'proceed' : 'reject'}">${escapeHtml(label)}</button></form>`,
        ),
      };
    }
    case 'recorded':
      return {
        status: 200,
        html: page('Answer recorded', `<h1>Answer recorded</h1>\n${prompt(state.confirmation)}\n<p class="note">You chose ${escapeHtml(choiceLabel(state.choice))}. The request is decided once enough approvers have answered.</p>`),
      };
    case 'voted':
      return { status: 409, html: page('Already answered', `<h1>You already answered</h1>\n${prompt(state.confirmation)}\n<p class="note">This link changes nothing now.</p>`) };
    case 'refused':
      return { status: 403, html: page('Not possible here', `<h1>Not possible here</h1>\n${prompt(state.confirmation)}\n<p class="note">${escapeHtml(state.reason)}</p>`) };
    case 'decided': {
      const proceed = state.choice.proceed;
      const title = state.choice.option ? choiceLabel(state.choice) : proceed ? 'Approved' : 'Rejected';
      return {
        status: 200,
        html: page(title, `<h1>${escapeHtml(title)}</h1>\n${prompt(state.confirmation)}\n<p class="note">Your answer was recorded. You can close this page.</p>`, `outcome ${proceed ? 'proceed' : 'reject'}`),
      };
    }
    case 'settled': {
      const { confirmation } = state;
      if (confirmation.state === 'timed_out') {
        return { status: 410, html: page('Expired', `<h1>This request has expired</h1>\n${prompt(confirmation)}\n<p class="note">Nobody answered in time; nothing was changed.</p>`) };
      }
      return {
        status: 409,
        html: page('Already decided', `<h1>Already decided</h1>\n${prompt(confirmation)}\n<p class="note">${SETTLED_TEXT[confirmation.state] ?? ''} This link changes nothing now.</p>`),
      };
    }
    case 'expired':
      return { status: 410, html: page('Link expired', '<h1>This link has expired</h1>\n<p class="note">Ask for a new one if the request is still open.</p>') };
    case 'gone':
      return { status: 404, html: page('Not found', '<h1>This request no longer exists</h1>\n<p class="note">It was decided or expired some time ago.</p>') };
    case 'busy':
      return { status: 503, html: page('Try again', '<h1>Busy</h1>\n<p class="note">The gateway is busy. Try again in a moment.</p>') };
    case 'disabled':
      return { status: 404, html: page('Not found', '<h1>Not found</h1>\n<p class="note">Action links are not enabled on this gateway.</p>') };
    case 'invalid':
      return { status: 403, html: page('Invalid link', '<h1>This link is not valid</h1>\n<p class="note">Check that it was copied completely.</p>') };
  }
}
