import { Injectable, Logger } from '@nestjs/common';
import type { Confirmation } from './confirmation.js';

/**
 * What happens to a confirmation, told once, by the instance where it happened. The audit
 * trail and the decision webhooks listen here, so ConfirmationService does not know them.
 * Each event carries the confirmation as it stands after the event.
 */
export type ConfirmationEvent =
  | { type: 'created'; confirmation: Confirmation; at: number; requestId?: string; apiKeyId?: string; requestedBy?: string }
  | { type: 'delivered'; confirmation: Confirmation; at: number; instanceId: string; connections: number }
  | { type: 'settled'; confirmation: Confirmation; at: number; userId?: string; connectionId?: string }
  /** The prompt went out again (reminder n, from 1), from the instance that claimed the run. */
  | { type: 'reminder'; confirmation: Confirmation; at: number; reminder: number; instanceId: string; connections: number }
  /** Approvers were added after `afterSeconds` without a decision (escalation step `step`, from 0). */
  | { type: 'escalated'; confirmation: Confirmation; at: number; step: number; users: string[]; groups: string[]; instanceId: string };

export type ConfirmationEventType = ConfirmationEvent['type'];

export type ConfirmationEventListener = (event: ConfirmationEvent) => unknown;

/**
 * A listener's failure is logged and never reaches the confirmation's own flow; `emit`
 * resolves once every listener has (so a listener that stores something, such as a
 * webhook's schedule, has stored it before the decision is answered).
 */
@Injectable()
export class ConfirmationEvents {
  private readonly logger = new Logger(ConfirmationEvents.name);
  private readonly listeners: ConfirmationEventListener[] = [];

  on(listener: ConfirmationEventListener): void {
    this.listeners.push(listener);
  }

  /** True when someone listens: callers skip building an event nobody reads. */
  get heard(): boolean {
    return this.listeners.length > 0;
  }

  async emit(event: ConfirmationEvent): Promise<void> {
    if (this.listeners.length === 0) return;
    await Promise.all(this.listeners.map((listener) => this.call(listener, event)));
  }

  private async call(listener: ConfirmationEventListener, event: ConfirmationEvent): Promise<void> {
    try {
      await listener(event);
    } catch (err) {
      this.logger.warn(`A ${event.type} listener failed for ${event.confirmation.callbackId}: ${(err as Error).message}`);
    }
  }
}
