import { PinoLogger } from 'nestjs-pino';

/**
 * Whether a Nest `logger.log` line would be written (pino's `info`). Hot paths ask before
 * building a line: below LOG_LEVEL the Nest and nestjs-pino wrappers still cost every call.
 * Without the app's pino logger (unit tests) Nest decides, so the answer is yes.
 */
export function infoLogged(): boolean {
  const root = PinoLogger.root as PinoLogger['logger'] | undefined;
  return root === undefined || root.isLevelEnabled('info');
}
