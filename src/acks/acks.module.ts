import { Injectable, Module, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ConnectionsModule } from '../connections/connections.module.js';
import { DeliveryModule } from '../delivery/delivery.module.js';
import { MetricsRegistryModule } from '../metrics/metrics-registry.module.js';
import { RedisService } from '../redis/redis.service.js';
import { AckService } from './ack.service.js';
import { AckStore } from './ack.store.js';
import { MemoryAckStore } from './memory-ack.store.js';
import { MessagesController } from './messages.controller.js';
import { RedisAckStore } from './redis-ack.store.js';

const SWEEP_INTERVAL_MS = 10_000;

/** Forgets expired and long-settled messages of the memory store. */
@Injectable()
export class AckSweeper implements OnModuleInit, OnModuleDestroy {
  private timer?: NodeJS.Timeout;

  constructor(private readonly store: AckStore) {}

  onModuleInit(): void {
    this.timer = setInterval(() => this.store.sweep(Date.now()), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }
}

@Module({
  imports: [ConnectionsModule, DeliveryModule, MetricsRegistryModule],
  controllers: [MessagesController],
  providers: [
    AckService,
    AckSweeper,
    {
      provide: AckStore,
      inject: [RedisService],
      useFactory: (redis: RedisService | null): AckStore => (redis ? new RedisAckStore(redis) : new MemoryAckStore()),
    },
  ],
  exports: [AckService],
})
export class AcksModule {}
