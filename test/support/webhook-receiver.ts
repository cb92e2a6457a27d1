import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** The body, if every given secret verified its signature (the standard algorithm, reference library). */
  payload: any;
  verified: boolean;
  at: number;
  /** The sender's side of the connection (its local port), to find the process that sent it. */
  remotePort: number;
}

/** What the receiver answers: a status (and headers), or `hang` (never answers). */
export type Answer = { status: number; headers?: Record<string, string> } | 'hang';

/**
 * A real HTTP receiver on 127.0.0.1 that verifies each webhook with the reference
 * Standard Webhooks library, once per secret it knows (a rotation's two signatures both
 * verify). `answers` are used in turn, the last one repeating.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  answers: Answer[] = [{ status: 204 }];
  private readonly hanging = new Set<ServerResponse>();
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly server: Server,
    private readonly secrets: string[],
  ) {}

  static async start(secrets: string[]): Promise<WebhookReceiver> {
    let receiver!: WebhookReceiver;
    const server = createServer((req, res) => receiver.handle(req, res));
    receiver = new WebhookReceiver(server, secrets);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      let payload: any;
      let verified = this.secrets.length > 0;
      for (const secret of this.secrets) {
        try {
          payload = new Webhook(secret).verify(body, headers);
        } catch {
          verified = false;
        }
      }
      this.received.push({ path: req.url ?? '', headers, body, payload: payload ?? safeParse(body), verified, at: Date.now(), remotePort: req.socket.remotePort ?? 0 });
      for (const wake of this.waiters.splice(0)) wake();
      const answer = this.answers.length > 1 ? (this.answers.shift() as Answer) : this.answers[0];
      if (answer === 'hang') {
        this.hanging.add(res);
        return;
      }
      res.writeHead(answer.status, answer.headers ?? {});
      res.end('x'.repeat(100));
    });
  }

  /** Resolves once `count` webhooks (matching `filter`) have arrived. */
  async waitFor(count: number, timeoutMs = 15_000, filter: (w: ReceivedWebhook) => boolean = () => true): Promise<ReceivedWebhook[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const matching = this.received.filter(filter);
      if (matching.length >= count) return matching;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} webhooks, got ${matching.length}: ${JSON.stringify(this.received.map((r) => [r.path, r.payload?.type]))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
