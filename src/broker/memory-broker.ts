import { connectionStreamKey, isKept } from '../history/history.store.js';
import type { MemoryHistoryStore } from '../history/memory-history.store.js';
import { Arrival, Broker, Publication, StreamFrame } from './broker.js';

/**
 * One process: publishing appends to the in-process history (when it is kept) and hands the
 * frame to this instance's sockets in the same synchronous call. Every stream is always
 * reachable.
 */
export class MemoryBroker extends Broker {
  private listener: (arrival: Arrival) => number = () => 0;

  /** `history` null: no history kept, frames go out without offsets. */
  constructor(private readonly history: MemoryHistoryStore | null) {
    super();
  }

  publish(publication: Publication): Promise<number> {
    return Promise.resolve(this.publishNow(publication));
  }

  publishNow({ stream, json, skipUsers, exceptConnectionId, acceptedAt }: Publication): number {
    let frame: StreamFrame | string = json;
    if (this.history && isKept(stream)) {
      const kept = this.history.append(stream, json, skipUsers);
      frame = new StreamFrame(kept.json, connectionStreamKey(stream), kept.offset);
    }
    return this.listener({ stream, frame, skipUsers, exceptConnectionId, acceptedAt });
  }

  onArrival(listener: (arrival: Arrival) => number): void {
    this.listener = listener;
  }

  async subscribe(): Promise<void> {}

  unsubscribe(): void {}

  async reachable(): Promise<void> {}
}
