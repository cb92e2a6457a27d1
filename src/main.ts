import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { startApp } from './app.factory.js';

async function main(): Promise<void> {
  const { host, port } = await startApp();
  new Logger('Bootstrap').log(`Confirmation gateway listening on ${host}:${port} (HTTP and WebSocket at / and /ws)`);
}

main().catch((err: Error) => {
  new Logger('Bootstrap').error(err.message);
  process.exitCode = 1;
});
