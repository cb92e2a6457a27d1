import { WebSocket } from 'ws';
import { GatewayClient, type GatewayClientEvents, type GatewayClientOptions } from '../../dist/index.js';

/** Every event a client emitted, in order, so a test can wait for one or count them. */
export class Recorder {
  readonly events: Array<{ event: keyof GatewayClientEvents; payload: any; at: number }> = [];
  private waiters: Array<() => void> = [];

  constructor(readonly client: GatewayClient) {
    const names: Array<keyof GatewayClientEvents> = [
      'state', 'prompt', 'promptResolved', 'vote', 'reminder', 'taskProgress', 'heartbeat', 'taskCancelled', 'notice', 'shutdown', 'error', 'rtt', 'message', 'resumed',
    ];
    for (const event of names) {
      client.on(event, (payload: unknown) => {
        this.events.push({ event, payload, at: Date.now() });
        const waiters = this.waiters;
        this.waiters = [];
        for (const wake of waiters) wake();
      });
    }
  }

  all<K extends keyof GatewayClientEvents>(event: K): GatewayClientEvents[K][] {
    return this.events.filter((e) => e.event === event).map((e) => e.payload);
  }

  /** Waits for the first `event` (recorded after `from`) that satisfies `predicate`. */
  async waitFor<K extends keyof GatewayClientEvents>(
    event: K,
    predicate: (payload: GatewayClientEvents[K]) => boolean = () => true,
    timeoutMs = 5000,
    from = 0,
  ): Promise<GatewayClientEvents[K]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find((e) => e.event === event && predicate(e.payload));
      if (found) return found.payload;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${String(event)} event within ${timeoutMs} ms; saw ${JSON.stringify(this.events.map((e) => [e.event, e.payload?.state ?? e.payload?.callback_id ?? '']))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  connected(from = 0): Promise<unknown> {
    return this.waitFor('state', (change) => change.state === 'connected', 8000, from);
  }
}

/** A client on `ws`, started, with its events recorded. */
export function startClient(wsUrl: string, options: Partial<GatewayClientOptions> = {}): { client: GatewayClient; events: Recorder } {
  const client = new GatewayClient({ url: `${wsUrl}/ws`, WebSocket, ...options });
  const events = new Recorder(client);
  client.connect();
  return { client, events };
}
