import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SHUTDOWN_SIGNALS, startApp } from './app.factory.js';
import { ConfigurationError } from './config/configuration.error.js';
import type { Environment } from './config/environment.js';
import { ServerStateService } from './health/server-state.service.js';
import { startupLogger } from './logging/logging.module.js';

const logger = new Logger('Bootstrap');

async function main(): Promise<void> {
  const { app, host, port } = await startApp();
  logger.log(`Confirmation gateway listening on ${host}:${port} (HTTP and WebSocket at / and /ws)`);

  const graceMs = app.get<ConfigService<Environment, true>>(ConfigService).get('SHUTDOWN_GRACE_SECONDS', { infer: true }) * 1000;
  const state = app.get(ServerStateService);
  // Nest's shutdown hooks close the app on these signals; this only makes readiness fail
  // at once and bounds how long the drain may take.
  for (const signal of SHUTDOWN_SIGNALS) {
    process.once(signal, () => {
      logger.log(`${signal}: draining (at most ${graceMs / 1000} s)`);
      state.beginDraining();
      setTimeout(() => {
        logger.error('Shutdown grace period over; exiting now');
        process.exit(1);
      }, graceMs).unref();
    });
  }
}

main().catch(async (err: Error) => {
  if (err instanceof ConfigurationError) await logRefusedConfiguration(err);
  else logger.error(err.message);
  // Exit now: open Redis connections would otherwise keep a process that never listened alive.
  process.exit(1);
});

/** One line naming each bad variable, in the format the service logs in (JSON in production). */
async function logRefusedConfiguration(err: ConfigurationError): Promise<void> {
  const startup = await startupLogger(err.nodeEnv, 'Bootstrap');
  startup.error({ invalid: err.byVariable() }, err.summary());
}
