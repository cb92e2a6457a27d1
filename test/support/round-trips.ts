import type { RedisService } from '../../src/redis/redis.service.js';

export interface SentCommand {
  name: string;
  args: string[];
  /** Sequential round trip it belongs to: a command sent after a reply starts the next one. */
  round: number;
}

type Command = { name: string; args: unknown[]; resolve: (value: unknown) => void };

/**
 * Records the commands an in-process app sends on its Redis command connection that
 * `concerns` picks (e.g. those naming an id only the test uses, so timers' traffic stays
 * out), each with its round trip among them.
 */
export class RoundTrips {
  private sent: SentCommand[] = [];
  private round = 0;
  private repliedSinceLastSend = true;

  constructor(redis: RedisService, concerns: (args: string[]) => boolean) {
    const client = redis.commands as unknown as { sendCommand(command: Command, ...rest: unknown[]): unknown };
    const send = client.sendCommand.bind(client);
    client.sendCommand = (command, ...rest) => {
      const args = command.args.map((arg) => (Buffer.isBuffer(arg) ? arg.toString() : String(arg)));
      if (concerns(args)) this.record(command, args);
      return send(command, ...rest);
    };
  }

  get commands(): readonly SentCommand[] {
    return this.sent;
  }

  /** The commands as `<round> <name>`, for a failure message. */
  get summary(): string {
    return this.sent.map((c) => `${c.round} ${c.name}`).join(', ');
  }

  reset(): void {
    this.sent = [];
    this.round = 0;
    this.repliedSinceLastSend = true;
  }

  private record(command: Command, args: string[]): void {
    if (this.repliedSinceLastSend) this.round++;
    this.repliedSinceLastSend = false;
    this.sent.push({ name: command.name, args, round: this.round });
    // The parser calls resolve as the reply arrives, before anyone awaiting it resumes.
    const resolve = command.resolve;
    command.resolve = (value) => {
      this.repliedSinceLastSend = true;
      resolve(value);
    };
  }
}
