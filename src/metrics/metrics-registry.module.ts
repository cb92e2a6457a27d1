import { Module } from '@nestjs/common';
import { MetricsService } from './metrics.service.js';

/**
 * The metrics registry alone, without the endpoint or the status-derived figures. Those
 * read StatusService, which reads the confirmations and connections; a module that records
 * metrics itself (confirmations: time to decision) imports this one, so no cycle forms.
 */
@Module({
  providers: [MetricsService],
  exports: [MetricsService],
})
export class MetricsRegistryModule {}
