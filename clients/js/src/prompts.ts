import type { ConfirmationAcceptedFrame, ConfirmationResolvedFrame, ConfirmationState, TaskStepResultFrame } from './protocol.js';

/** A confirmation request waiting for this user's answer. */
export interface Prompt extends Readonly<TaskStepResultFrame> {
  /** Answers it; resolves on `confirmation_accepted`, rejects with a GatewayRequestError (`code`). */
  answer(proceed: boolean, feedback?: string): Promise<ConfirmationAcceptedFrame>;
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
}

export interface PromptBookEvents {
  added(prompt: Prompt): void;
  resolved(resolution: PromptResolution): void;
}

/**
 * The pending prompts of one client, kept in step with the server. A prompt is reported
 * once when it first arrives (a re-send after a reconnect is not new) and once when it
 * leaves, whichever way it leaves.
 */
export class PromptBook {
  private readonly prompts = new Map<string, Prompt>();
  /** Callback ids re-sent since the current connection opened (null: not reconnecting). */
  private resentSinceConnect: Set<string> | null = null;

  constructor(
    private readonly events: PromptBookEvents,
    private readonly answer: (callbackId: string, proceed: boolean, feedback?: string) => Promise<ConfirmationAcceptedFrame>,
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
    if (this.prompts.has(frame.callback_id)) return;
    const prompt: Prompt = Object.freeze({
      ...frame,
      answer: (proceed: boolean, feedback?: string) => this.answer(frame.callback_id, proceed, feedback),
    });
    this.prompts.set(frame.callback_id, prompt);
    this.events.added(prompt);
  }

  onResolved(frame: ConfirmationResolvedFrame): void {
    const prompt = this.prompts.get(frame.callback_id);
    if (prompt) this.remove(frame.callback_id, { prompt, by: 'elsewhere', state: frame.state, proceed: frame.proceed });
  }

  onAccepted(frame: ConfirmationAcceptedFrame): void {
    const prompt = this.prompts.get(frame.callback_id);
    if (!prompt) return;
    const state = frame.proceed ? 'confirmed' : 'rejected';
    this.remove(frame.callback_id, { prompt, by: 'here', state, proceed: frame.proceed, feedback: frame.feedback });
  }

  /** The server refused an answer because the prompt is settled or unknown: it is not pending. */
  onSettledElsewhere(callbackId: string): void {
    const prompt = this.prompts.get(callbackId);
    if (prompt) this.remove(callbackId, { prompt, by: 'elsewhere', state: null, proceed: null });
  }

  private remove(callbackId: string, resolution: PromptResolution): void {
    this.prompts.delete(callbackId);
    this.events.resolved(resolution);
  }
}
