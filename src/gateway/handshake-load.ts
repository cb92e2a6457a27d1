/** The shortest and longest wait a refused handshake is told to keep. */
export const MIN_RETRY_AFTER_MS = 1_000;
export const MAX_RETRY_AFTER_MS = 30_000;
const BUCKET_MS = 1_000;
/** Weight of the newest handshake in the running mean of their durations. */
const DURATION_WEIGHT = 0.1;

/**
 * The pace of an instance's handshakes (a running mean of how long one takes, from the
 * upgrade to the end of its catch-up) and the handshakes it refused over the last one to two
 * seconds. A handshake refused in a reconnect storm is told to come back once the instance,
 * at that pace and with its bound of handshakes at a time, has worked through the ones in
 * flight and the ones it just refused: the refused clients spread their retries around that
 * time (the SDK picks between half and one and a half of it), so they return about as fast as
 * the instance can take them, instead of all within the SDK's first half-second back-off.
 */
export class HandshakeLoad {
  private meanDurationMs = 0;
  private bucketStart = 0;
  private refusedNow = 0;
  private refusedBefore = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** An admitted handshake that began at `startedAt` (from this clock) finished. */
  finished(startedAt: number): void {
    const duration = Math.max(0, this.now() - startedAt);
    this.meanDurationMs = this.meanDurationMs === 0 ? duration : this.meanDurationMs + DURATION_WEIGHT * (duration - this.meanDurationMs);
  }

  /** Counts a refusal and answers how long the refused client should wait, in ms. */
  refused(inFlight: number, maxConcurrent: number): number {
    this.roll();
    this.refusedNow += 1;
    const waiting = inFlight + this.refusedNow + this.refusedBefore;
    const drainMs = (waiting * this.meanDurationMs) / Math.max(1, maxConcurrent);
    return Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, Math.ceil(drainMs / 100) * 100));
  }

  private roll(): void {
    const now = this.now();
    if (now - this.bucketStart < BUCKET_MS) return;
    // A bucket more than one period old has nothing to say about now.
    this.refusedBefore = now - this.bucketStart < 2 * BUCKET_MS ? this.refusedNow : 0;
    this.refusedNow = 0;
    this.bucketStart = now;
  }
}
