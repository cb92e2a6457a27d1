import { Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller.js';
import { MetricsRegistryModule } from './metrics-registry.module.js';
import { StatusMetricsService } from './status-metrics.service.js';

/** GET /metrics: the registry plus the figures read from the services' counters. */
@Module({
  imports: [MetricsRegistryModule],
  controllers: [MetricsController],
  providers: [StatusMetricsService],
})
export class MetricsModule {}
