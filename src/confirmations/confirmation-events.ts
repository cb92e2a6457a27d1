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
 * Listeners are called synchronously, in the order they subscribed. A listener's failure is
 * logged and never reaches the confirmation's own flow. A listener that stores something (a
 * webhook's schedule) returns a promise; `emit` then returns one that settles once every such
 * listener has, so the decision is answered after it is stored. Without one, `emit` returns
 * undefined: no promise is made for the listeners of a plain prompt.
 */
@Injectable()
export class ConfirmationEvents {
  private readonly logger = new Logger(ConfirmationEvents.name);
  private readonly ofEveryType: ConfirmationEventListener[] = [];
  private readonly ofSomeTypes = new Map<ConfirmationEventType, ConfirmationEventListener[]>();
  /** Who hears each type, both kinds together: made once per type, so `emit` copies nothing. */
  private readonly heardBy = new Map<ConfirmationEventType, ConfirmationEventListener[]>();

  /** Listens to every event (types added later too), or with `types` to those only. */
  on(listener: ConfirmationEventListener, types?: readonly ConfirmationEventType[]): void {
    if (!types) this.ofEveryType.push(listener);
    for (const type of types ?? []) {
      const listeners = this.ofSomeTypes.get(type);
      if (listeners) listeners.push(listener);
      else this.ofSomeTypes.set(type, [listener]);
    }
    this.heardBy.clear();
  }

  /** True when someone listens to events of this type: callers skip building an event nobody reads. */
  hears(type: ConfirmationEventType): boolean {
    return this.listenersOf(type).length > 0;
  }

  emit(event: ConfirmationEvent): Promise<void> | undefined {
    let stored: Promise<unknown>[] | undefined;
    for (const listener of this.listenersOf(event.type)) {
      try {
        const outcome = listener(event);
        if (outcome instanceof Promise) (stored ??= []).push(outcome.catch((err: unknown) => this.failed(event, err)));
      } catch (err) {
        this.failed(event, err);
      }
    }
    return stored && Promise.all(stored).then(() => undefined);
  }

  private listenersOf(type: ConfirmationEventType): ConfirmationEventListener[] {
    let listeners = this.heardBy.get(type);
    if (!listeners) this.heardBy.set(type, (listeners = [...this.ofEveryType, ...(this.ofSomeTypes.get(type) ?? [])]));
    return listeners;
  }

  private failed(event: ConfirmationEvent, err: unknown): void {
    this.logger.warn(`A ${event.type} listener failed for ${event.confirmation.callbackId}: ${(err as Error).message}`);
  }
}
