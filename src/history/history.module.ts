import { Module } from '@nestjs/common';
import { StateBackend } from '../engine/state-backend.js';
import { HistoryStore } from './history.store.js';

/** The streams' history as the backend keeps it (the memory store sweeps itself). */
@Module({
  providers: [{ provide: HistoryStore, inject: [StateBackend], useFactory: (backend: StateBackend): HistoryStore => backend.history }],
  exports: [HistoryStore],
})
export class HistoryModule {}
