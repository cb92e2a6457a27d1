import { Injectable, Logger } from '@nestjs/common';
import type { Confirmation } from './confirmation.js';

/**
 * What happens to a confirmation, told once, by the instance where it happened. The audit
 * trail and the decision webhooks listen here, so ConfirmationService does not know them.
 * Each event carries the confirmation as it stands after the event.
 *
 * The audit trail (src/audit/audit-trail.service.ts) records every type: one it has no
 * mapping for becomes an audit event of that kind with the event's other fields as details,
 * so a new type is audited by adding its line here and emitting it.
 */
export type ConfirmationEvent =
  | { type: 'created'; confirmation: Confirmation; at: number; requestId?: string; apiKeyId?: string; requestedBy?: string }
  | { type: 'delivered'; confirmation: Confirmation; at: number; instanceId: string; connections: number }
  | {
      type: 'settled';
      confirmation: Confirmation;
      at: number;
      /** Who answered, when an answer settled it (not a timeout or a cancellation). */
      userId?: string;
      connectionId?: string;
      /** The answer's option id and form data, when the prompt offered them. */
      option?: string | null;
      data?: Record<string, unknown> | null;
    }
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
  /** Listeners of some event types only (the webhooks do not hear every prompt's creation). */
  private readonly byType = new Map<ConfirmationEventType, ConfirmationEventListener[]>();

  /** Listens to every event, or with `types` to those only. */
  on(listener: ConfirmationEventListener, types?: readonly ConfirmationEventType[]): void {
    if (!types) {
      this.listeners.push(listener);
      return;
    }
    for (const type of types) {
      const listeners = this.byType.get(type);
      if (listeners) listeners.push(listener);
      else this.byType.set(type, [listener]);
    }
  }

  /** True when someone listens: callers skip building an event nobody reads. */
  get heard(): boolean {
    return this.listeners.length > 0 || this.byType.size > 0;
  }

  /** True when someone listens to events of this type. */
  hears(type: ConfirmationEventType): boolean {
    return this.listeners.length > 0 || this.byType.has(type);
  }

  async emit(event: ConfirmationEvent): Promise<void> {
    const typed = this.byType.get(event.type);
    const listeners = typed ? [...this.listeners, ...typed] : this.listeners;
    if (listeners.length === 0) return;
    await Promise.all(listeners.map((listener) => this.call(listener, event)));
  }

  private async call(listener: ConfirmationEventListener, event: ConfirmationEvent): Promise<void> {
    try {
      await listener(event);
    } catch (err) {
      this.logger.warn(`A ${event.type} listener failed for ${event.confirmation.callbackId}: ${(err as Error).message}`);
    }
  }
}
