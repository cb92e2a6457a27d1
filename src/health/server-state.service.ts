import { Injectable, OnModuleDestroy } from '@nestjs/common';

/** Whether this instance is listening and not yet draining, as health and status report it. */
@Injectable()
export class ServerStateService implements OnModuleDestroy {
  readonly startedAt = Date.now();
  private listeningOn: { host: string; port: number } | null = null;
  private draining = false;

  markListening(host: string, port: number): void {
    this.listeningOn = { host, port };
  }

  /** From now on readiness fails and new upgrades are refused. */
  beginDraining(): void {
    this.draining = true;
  }

  /** Destroy hooks are the first step of any shutdown (signal or app.close()). */
  onModuleDestroy(): void {
    this.beginDraining();
  }

  get address(): { host: string; port: number } | null {
    return this.listeningOn;
  }

  get isShuttingDown(): boolean {
    return this.draining;
  }

  get isRunning(): boolean {
    return this.listeningOn !== null && !this.draining;
  }

  get uptimeSeconds(): number {
    return (Date.now() - this.startedAt) / 1000;
  }
}
