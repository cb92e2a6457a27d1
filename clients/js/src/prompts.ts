import type {
  ApprovalOption,
  ConfirmationAcceptedFrame,
  ConfirmationResolvedFrame,
  ConfirmationState,
  ConfirmationVoteFrame,
  TaskStepResultFrame,
  VoteView,
} from './protocol.js';

/**
 * An answer: pick one of the prompt's `options` (its `proceed` is the answer's), send the
 * filled `form` as `data` (checked by the server when the answer proceeds), or just say
 * `proceed`. `feedback` is an optional note for the task.
 */
export interface AnswerInput {
  option?: string;
  data?: Record<string, unknown>;
  proceed?: boolean;
  feedback?: string;
}

/** A confirmation request waiting for this user's answer. */
export interface Prompt extends Readonly<Omit<TaskStepResultFrame, 'votes' | 'reminder'>> {
  /**
   * Answers it; resolves on `confirmation_accepted`, rejects with a GatewayRequestError
   * (`code`), an InvalidAnswerError (`field`: the form field the server refused) or an
   * ApprovalRefusedError.
   */
  answer(proceed: boolean, feedback?: string): Promise<ConfirmationAcceptedFrame>;
  answer(input: AnswerInput): Promise<ConfirmationAcceptedFrame>;
  /** The votes so far (several approvers), kept up to date by `confirmation_vote` frames. */
  readonly votes: readonly VoteView[];
  /** Approvals still needed, from the last `confirmation_vote` (undefined before one). */
  readonly needed: number | undefined;
  /** The number of the last reminder of this prompt (undefined when none came). */
  readonly reminder: number | undefined;
  /** This client's user has voted on it; the prompt stays until the confirmation settles. */
  readonly voted: boolean;
  /** The option with that id, when the prompt has options. */
  option(id: string): ApprovalOption | undefined;
}

/** A prompt that is no longer pending, and how that became known. */
export interface PromptResolution {
  prompt: Prompt;
  /**
   * `here`: this client answered it. `elsewhere`: another tab answered it, it timed out or its
   * task was cancelled (`confirmation_resolved`), or the server said it was already settled.
   * `gone`: it was not re-sent after a reconnect, so it was settled while this client was away.
   */
  by: 'here' | 'elsewhere' | 'gone';
  /** The final state when the server said it; null when only its absence is known. */
  state: ConfirmationState | null;
  proceed: boolean | null;
  feedback?: string | null;
  /** The option chosen, when the server said it. */
  option?: string | null;
  /** The user whose answer or vote settled it, when the server said it. */
  decided_by?: string | null;
}

/** A vote on a prompt that did not settle it (`confirmation_vote`). */
export interface PromptVote {
  prompt: Prompt;
  votes: readonly VoteView[];
  needed: number;
  frame: ConfirmationVoteFrame;
}

/** A prompt shown again by a reminder (`task_step_result` with `reminder: n`). */
export interface PromptReminder {
  prompt: Prompt;
  reminder: number;
}

export interface PromptBookEvents {
  added(prompt: Prompt): void;
  resolved(resolution: PromptResolution): void;
  vote(vote: PromptVote): void;
  reminder(reminder: PromptReminder): void;
}

/** What changes on a prompt after it arrived. */
interface LiveState {
  votes: readonly VoteView[];
  /** Set while this client's accepted vote waits for a sign that the prompt is still pending. */
  graceTimer?: ReturnType<typeof setTimeout>;
  needed: number | undefined;
  reminder: number | undefined;
  voted: boolean;
}

type Answerer = (callbackId: string, input: AnswerInput) => Promise<ConfirmationAcceptedFrame>;

/** With several approvers an accepted answer is a vote, which may or may not settle the prompt. */
function isVoting(frame: TaskStepResultFrame): boolean {
  return frame.policy === 'all' || frame.policy === 'quorum';
}

/**
 * Only against an older server, whose `confirmation_accepted` has no `state`: how long after
 * its vote was accepted a client waits for a sign that the prompt is still pending (a
 * `confirmation_vote` listing that vote) before it takes the vote as the one that settled it.
 */
export const VOTE_SETTLE_GRACE_MS = 2000;

/** What the votes decide under the prompt's policy, or null while they decide nothing yet. */
export function outcomeOf(prompt: Pick<TaskStepResultFrame, 'policy' | 'quorum' | 'approvers'>, votes: readonly VoteView[]): 'confirmed' | 'rejected' | null {
  const approvals = votes.filter((vote) => vote.proceed).length;
  const rejections = votes.length - approvals;
  const listed = prompt.approvers?.users?.length ?? 0;
  const open = (prompt.approvers?.groups?.length ?? 0) > 0;
  if (prompt.policy === 'all') {
    if (rejections > 0) return 'rejected';
    return listed > 0 && approvals >= listed ? 'confirmed' : null;
  }
  if (prompt.policy === 'quorum') {
    const quorum = prompt.quorum ?? 1;
    if (approvals >= quorum) return 'confirmed';
    return !open && rejections > listed - quorum ? 'rejected' : null;
  }
  return votes.length > 0 ? (votes[votes.length - 1].proceed ? 'confirmed' : 'rejected') : null;
}

/**
 * The pending prompts of one client, kept in step with the server. A prompt is reported
 * once when it first arrives (a re-send after a reconnect is not new) and once when it
 * leaves, whichever way it leaves.
 */
export class PromptBook {
  private readonly prompts = new Map<string, Prompt>();
  private readonly live = new Map<string, LiveState>();
  /** Callback ids re-sent since the current connection opened (null: not reconnecting). */
  private resentSinceConnect: Set<string> | null = null;

  constructor(
    private readonly events: PromptBookEvents,
    private readonly answer: Answerer,
  ) {}

  list(): Prompt[] {
    return [...this.prompts.values()];
  }

  get(callbackId: string): Prompt | undefined {
    return this.prompts.get(callbackId);
  }

  /** A new connection opened: the server is about to re-send every prompt still pending. */
  beginResync(): void {
    this.resentSinceConnect = new Set();
  }

  /**
   * The connection resumed without a gap: the server re-sends no pending prompts, and every
   * resolution since the last connection came in order, so the book is already in step.
   */
  keepAfterResume(): void {
    this.resentSinceConnect = null;
  }

  /** Every re-send has arrived: prompts the server did not re-send were settled meanwhile. */
  endResync(): void {
    const resent = this.resentSinceConnect;
    this.resentSinceConnect = null;
    if (!resent) return;
    for (const [callbackId, prompt] of this.prompts) {
      if (!resent.has(callbackId)) this.remove(callbackId, { prompt, by: 'gone', state: null, proceed: null });
    }
  }

  onStepResult(frame: TaskStepResultFrame): void {
    this.resentSinceConnect?.add(frame.callback_id);
    const known = this.prompts.get(frame.callback_id);
    if (known) {
      const state = this.live.get(frame.callback_id)!;
      if (frame.votes) state.votes = Object.freeze([...frame.votes]);
      if (frame.reminder !== undefined && frame.reminder !== state.reminder) {
        state.reminder = frame.reminder;
        this.events.reminder({ prompt: known, reminder: frame.reminder });
      }
      return;
    }
    const state: LiveState = { votes: Object.freeze([...(frame.votes ?? [])]), needed: undefined, reminder: frame.reminder, voted: false };
    const { votes: _votes, reminder: _reminder, ...fields } = frame;
    const answer = (first: boolean | AnswerInput, feedback?: string) =>
      this.answer(frame.callback_id, typeof first === 'boolean' ? { proceed: first, feedback } : first);
    const prompt = Object.freeze(
      Object.defineProperties(
        { ...fields, answer: answer as Prompt['answer'], option: (id: string) => frame.options?.find((o) => o.id === id) },
        {
          votes: { get: () => state.votes, enumerable: true },
          needed: { get: () => state.needed, enumerable: true },
          reminder: { get: () => state.reminder, enumerable: true },
          voted: { get: () => state.voted, enumerable: true },
        },
      ),
    ) as Prompt;
    this.prompts.set(frame.callback_id, prompt);
    this.live.set(frame.callback_id, state);
    this.events.added(prompt);
    if (frame.reminder !== undefined) this.events.reminder({ prompt, reminder: frame.reminder });
  }

  onVote(frame: ConfirmationVoteFrame): void {
    const prompt = this.prompts.get(frame.callback_id);
    const state = this.live.get(frame.callback_id);
    if (!prompt || !state) return;
    state.votes = Object.freeze([...frame.votes]);
    state.needed = frame.needed;
    if (state.graceTimer !== undefined && this.ownVoteIn(state.votes)) {
      clearTimeout(state.graceTimer);
      state.graceTimer = undefined;
    }
    this.events.vote({ prompt, votes: state.votes, needed: frame.needed, frame });
  }

  onResolved(frame: ConfirmationResolvedFrame): void {
    const prompt = this.prompts.get(frame.callback_id);
    if (!prompt) return;
    const byHere = this.live.get(frame.callback_id)?.voted === true && frame.decided_by != null && frame.decided_by === this.userId?.();
    this.remove(frame.callback_id, {
      prompt,
      by: byHere ? 'here' : 'elsewhere',
      state: frame.state,
      proceed: frame.proceed,
      option: frame.option,
      decided_by: frame.decided_by,
    });
  }

  /** The connection's user, to tell a vote of this client that settled a prompt. */
  userId: (() => string | null) | undefined;

  onAccepted(frame: ConfirmationAcceptedFrame, sent?: AnswerInput): void {
    const prompt = this.prompts.get(frame.callback_id);
    if (!prompt) return;
    const live = this.live.get(frame.callback_id)!;
    if (isVoting(prompt as unknown as TaskStepResultFrame)) {
      // A vote: the confirmation may still wait for other approvers' votes.
      live.voted = true;
      const me = this.userId?.() ?? '';
      if (frame.state !== undefined) {
        // The server says whether this vote settled it (a confirmation_resolved follows otherwise).
        if (frame.state === 'pending') return;
        return this.remove(frame.callback_id, { prompt, by: 'here', state: frame.state, proceed: frame.proceed, feedback: frame.feedback, option: sent?.option ?? null, decided_by: me || null });
      }
      // An older server does not say: work it out from the votes so far and the policy.
      if (this.ownVoteIn(live.votes)) return; // told already: still pending
      const counted = [...live.votes, { user_id: me, proceed: frame.proceed, option: sent?.option ?? null, at: frame.timestamp }];
      const outcome = outcomeOf(prompt as unknown as TaskStepResultFrame, counted);
      const settleHere = () =>
        this.remove(frame.callback_id, { prompt, by: 'here', state: outcome ?? (frame.proceed ? 'confirmed' : 'rejected'), proceed: outcome === null ? frame.proceed : outcome === 'confirmed', feedback: frame.feedback, option: sent?.option ?? null, decided_by: me || null });
      if (outcome !== null) return settleHere();
      live.graceTimer = setTimeout(() => {
        live.graceTimer = undefined;
        if (this.live.get(frame.callback_id) === live && !this.ownVoteIn(live.votes)) settleHere();
      }, VOTE_SETTLE_GRACE_MS);
      (live.graceTimer as { unref?: () => void }).unref?.();
      return;
    }
    const state = frame.proceed ? 'confirmed' : 'rejected';
    this.remove(frame.callback_id, { prompt, by: 'here', state, proceed: frame.proceed, feedback: frame.feedback, option: sent?.option ?? null });
  }

  /** The server refused an answer because the prompt is settled or unknown: it is not pending. */
  onSettledElsewhere(callbackId: string): void {
    const prompt = this.prompts.get(callbackId);
    if (prompt) this.remove(callbackId, { prompt, by: 'elsewhere', state: null, proceed: null });
  }

  private ownVoteIn(votes: readonly VoteView[]): boolean {
    const me = this.userId?.();
    return me != null && votes.some((vote) => vote.user_id === me);
  }

  private remove(callbackId: string, resolution: PromptResolution): void {
    const timer = this.live.get(callbackId)?.graceTimer;
    if (timer !== undefined) clearTimeout(timer);
    this.prompts.delete(callbackId);
    this.live.delete(callbackId);
    this.events.resolved(resolution);
  }
}
