import { Global, Module } from '@nestjs/common';
import { Settings } from '../config/settings.js';
import { InstanceIdentity } from '../redis/instance-identity.js';
import { InstanceRegistry } from '../redis/instance-registry.service.js';
import { MemoryBackend } from './memory-backend.js';
import { StateBackend } from './state-backend.js';

/**
 * The one place the backend is chosen, once, at start-up: memory by default, Redis (or a
 * Redis Cluster) when REDIS_URL is set. Every module takes its store, the history, the
 * broker and the instance registry from the StateBackend this provides. The Redis backend
 * (ioredis, the scripts, every Redis store) is loaded only when it is the one chosen, so a
 * start in memory mode does not pay for modules it never runs.
 */
@Global()
@Module({
  providers: [
    Settings,
    InstanceIdentity,
    {
      provide: StateBackend,
      inject: [Settings, InstanceIdentity],
      useFactory: async (settings: Settings, identity: InstanceIdentity): Promise<StateBackend> => {
        if (settings.backend === 'memory') return new MemoryBackend(identity.id, settings.history);
        const { RedisBackend } = await import('./redis-backend.js');
        return new RedisBackend(identity.id, settings.redis, settings.history);
      },
    },
    { provide: InstanceRegistry, inject: [StateBackend], useFactory: (backend: StateBackend) => backend.instances },
  ],
  exports: [Settings, InstanceIdentity, StateBackend, InstanceRegistry],
})
export class BackendModule {}
