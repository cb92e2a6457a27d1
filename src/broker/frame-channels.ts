import type { StreamRef } from '../history/history.store.js';
import type { RedisService } from '../redis/redis.service.js';

/**
 * The Redis pub/sub channels frames and controls travel on, and how they are used.
 *
 * On one Redis server (or behind Sentinel): plain pub/sub. On a Redis Cluster: sharded
 * pub/sub (SSUBSCRIBE/SPUBLISH). Plain PUBLISH on a cluster is copied to every node, and
 * answers only the subscribers of the node it ran on, so a publication's "instances reached"
 * undercounts; a sharded channel lives on the shard that owns its slot, so SPUBLISH reaches
 * and counts every subscriber, and the copy to every node is saved. A stream's channel
 * carries its stream's hash tag, so the publish script (which appends to the stream) can
 * SPUBLISH it from the same slot.
 */
export class FrameChannels {
  readonly sharded: boolean;
  /** The command the publish script runs. */
  readonly publishCommand: 'spublish' | 'publish';

  constructor(private readonly redis: RedisService) {
    this.sharded = redis.isCluster;
    this.publishCommand = this.sharded ? 'spublish' : 'publish';
  }

  ofStream(stream: StreamRef): string {
    if (!this.sharded) return stream.kind === 'broadcast' ? this.redis.channel('broadcast') : this.redis.channel(stream.kind, stream.id);
    switch (stream.kind) {
      case 'user':
        return this.redis.userKey(stream.id, 'ch');
      case 'task':
        return this.redis.taskKey(stream.id, 'ch');
      case 'group':
        // Not kept (live only): published on its own, so any slot will do.
        return this.redis.idKey('ch-group', stream.id);
      case 'broadcast':
        return this.redis.globalKey('ch');
    }
  }

  ofInstance(instanceId: string): string {
    return this.sharded ? this.redis.idKey('ch-instance', instanceId) : this.redis.channel('instance', instanceId);
  }

  subscribe(channel: string): Promise<unknown> {
    return this.sharded ? this.redis.subscriber.ssubscribe(channel) : this.redis.subscriber.subscribe(channel);
  }

  unsubscribe(channel: string): Promise<unknown> {
    return this.sharded ? this.redis.subscriber.sunsubscribe(channel) : this.redis.subscriber.unsubscribe(channel);
  }

  /** Resolves to the number of instances that received it. */
  publish(channel: string, message: string): Promise<number> {
    return this.sharded ? (this.redis.commands.spublish(channel, message) as Promise<number>) : this.redis.commands.publish(channel, message);
  }

  onMessage(listener: (channel: string, message: string) => void): void {
    this.redis.subscriber.on(this.sharded ? 'smessage' : 'message', listener);
  }

  /**
   * After every (re)connection of the subscriptions, once they are restored: plain pub/sub
   * when the subscriber connection is ready (the broker subscribes every channel again);
   * sharded, when the client has resubscribed each shard's channels itself.
   */
  onReady(listener: () => void): void {
    this.redis.subscriber.on(this.sharded ? 'subscribersReady' : 'ready', listener);
  }

  /** Whether the subscriptions are up now (the client may be connected before the broker exists). */
  get ready(): boolean {
    return this.redis.subscriber.status === 'ready';
  }
}
