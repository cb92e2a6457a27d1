// First: tracing, when configured, starts before the service is built.
import './tracing/register.js';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { RunningApp, SHUTDOWN_SIGNALS, startApp } from './app.factory.js';
import { ConfigurationError } from './config/configuration.error.js';
import type { Environment } from './config/environment.js';
import { ServerStateService } from './health/server-state.service.js';
import { startupLogger } from './logging/logging.module.js';
import { tracing } from './tracing/tracing.js';

const logger = new Logger('Bootstrap');

async function main(): Promise<void> {
  const { app, host, port } = await startApp();
  const graceMs = app.get<ConfigService<Environment, true>>(ConfigService).get('SHUTDOWN_GRACE_SECONDS', { infer: true }) * 1000;
  // Before the line that tells supervisors (and tests) the service is up: a signal that
  // arrives before its listener exists kills the process outright.
  for (const signal of SHUTDOWN_SIGNALS) process.once(signal, () => void drain(app, signal, graceMs));
  logger.log(`Confirmation gateway listening on ${host}:${port} (HTTP and WebSocket at / and /ws)`);
}

/**
 * Readiness fails at once, the app closes (sockets told and closed, callers answered 503)
 * and the process exits 0; 1 if that takes longer than the grace period or fails. Nest's own
 * shutdown hooks would re-raise the signal after closing, so a clean drain looked like a kill.
 */
async function drain(app: RunningApp['app'], signal: NodeJS.Signals, graceMs: number): Promise<void> {
  logger.log(`${signal}: draining (at most ${graceMs / 1000} s)`);
  app.get(ServerStateService).beginDraining();
  setTimeout(() => {
    logger.error('Shutdown grace period over; exiting now');
    process.exit(1);
  }, graceMs).unref();
  try {
    await app.close();
  } catch (err) {
    logger.error(`Shutdown failed: ${(err as Error).message}`);
    process.exit(1);
  }
  // The spans of the last requests are exported before the process ends (for 2 s at most).
  if (tracing.stop) await Promise.race([tracing.stop().catch((err: Error) => logger.warn(`Tracing shutdown failed: ${err.message}`)), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  process.exit(0);
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
