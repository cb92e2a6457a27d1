import { Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import type { RedisClient } from './redis-connection.js';

/** Seconds a caller should wait before retrying when replicas did not confirm in time. */
export const REPLICA_RETRY_AFTER_SECONDS = 2;

export interface ReplicationFenceSettings {
  /** Replicas that must have every write made so far; 0 turns the fence off. */
  replicas: number;
  timeoutMs: number;
  /** A channel nobody listens on: publishing to it is the fence's own replicated write. */
  channel: string;
}

/**
 * Waits until replicas hold every write the primary had when `pass()` was called, from any
 * connection of any instance. Redis's WAIT only covers the writes of the connection it runs
 * on, and it blocks that connection while it waits: so the fence has a connection of its
 * own, makes a tiny replicated write there (a PUBLISH, which replicates as an offset in one
 * ordered stream) and WAITs for that. A replica holding the fence's offset holds everything
 * before it. Callers arriving while a fence is out share the next one (group commit), so a
 * burst of decisions costs one round trip to the replicas, not one each.
 */
export class ReplicationFence {
  private readonly logger = new Logger(ReplicationFence.name);
  private inFlight: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  /** Logged once when fences start failing and once when they pass again, not per request. */
  private failing = false;

  constructor(
    private readonly connection: RedisClient,
    private readonly settings: ReplicationFenceSettings,
  ) {}

  /** Resolves once enough replicas hold every write made before this call; else a 503 `unavailable`. */
  pass(): Promise<void> {
    if (!this.inFlight) return (this.inFlight = this.runAndRelease());
    // The fence already out may predate the caller's write: join the one after it.
    this.next ??= this.inFlight.then(
      () => this.pass(),
      () => this.pass(),
    );
    const joined = this.next;
    return joined;
  }

  private async runAndRelease(): Promise<void> {
    this.next = null;
    try {
      await this.waitForReplicas();
    } finally {
      this.inFlight = null;
    }
  }

  private async waitForReplicas(): Promise<void> {
    const { replicas, timeoutMs, channel } = this.settings;
    let acknowledged: number;
    try {
      const results = await this.connection.pipeline().publish(channel, '').wait(replicas, timeoutMs).exec();
      const failure = results?.find(([err]) => err)?.[0];
      if (!results || failure) throw failure ?? new Error('no reply');
      acknowledged = Number(results[1]![1]);
    } catch (err) {
      throw this.failed(`could not ask Redis for replica acknowledgements (${(err as Error).message})`);
    }
    if (acknowledged < replicas) throw this.failed(`${acknowledged} of ${replicas} replica(s) acknowledged within ${timeoutMs} ms`);
    if (this.failing) this.logger.log(`Replicas acknowledge again; confirmations are acknowledged again`);
    this.failing = false;
  }

  private failed(detail: string): GatewayError {
    if (!this.failing) this.logger.warn(`Not acknowledging confirmations (503) until replicas do: ${detail}`);
    this.failing = true;
    return unreplicated(detail);
  }
}

function unreplicated(detail: string): GatewayError {
  return new GatewayError(ErrorCode.Unavailable, `Not acknowledged: not on enough Redis replicas yet (${detail}); retry shortly`, REPLICA_RETRY_AFTER_SECONDS);
}
