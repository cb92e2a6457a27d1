import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import { validateEnvironment } from './config/environment.js';
import { ConfirmationsModule } from './confirmations/confirmations.module.js';
import { ConnectionsModule } from './connections/connections.module.js';
import { DeliveryModule } from './delivery/delivery.module.js';
import { BackendModule } from './engine/backend.module.js';
import { GatewayModule } from './gateway/gateway.module.js';
import { HealthModule } from './health/health.module.js';
import { InboxModule } from './inbox/inbox.module.js';
import { LinksModule } from './links/links.module.js';
import { LoggingModule, LoggingOptions } from './logging/logging.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { NotifyModule } from './notify/notify.module.js';
import { TasksModule } from './tasks/tasks.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';

export interface AppModuleOptions extends LoggingOptions {
  /**
   * The complete raw settings to use instead of the process environment and `.env`
   * (tests pass their own, so apps in one process cannot see each other's).
   */
  env?: Record<string, unknown>;
}

@Module({})
export class AppModule {
  /**
   * Validates the settings before Nest starts: a refused configuration rejects this promise
   * (a ConfigurationError for main.ts to log as one line), where inside Nest's start-up its
   * exception handler would print a stack trace and end the process itself.
   */
  static async forRoot(options: AppModuleOptions = {}): Promise<DynamicModule> {
    const isolated = options.env !== undefined;
    const config = await ConfigModule.forRoot({
      isGlobal: true,
      cache: true,
      ignoreEnvFile: isolated,
      ignoreEnvVars: isolated,
      // Every value comes from the validated settings, never from process.env directly
      // (ConfigModule copies validated values there, which would leak between apps).
      skipProcessEnv: true,
      validate: (raw) => validateEnvironment(isolated ? (options.env as Record<string, unknown>) : raw),
    });
    return {
      module: AppModule,
      imports: [
        config,
        LoggingModule.forRoot(options),
        BackendModule,
        AuthModule,
        ConnectionsModule,
        DeliveryModule,
        ConfirmationsModule,
        AuditModule,
        TasksModule,
        NotifyModule,
        WebhooksModule,
        GatewayModule,
        HealthModule,
        MetricsModule,
        InboxModule,
        LinksModule,
      ],
    };
  }
}
