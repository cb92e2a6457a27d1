export interface BackoffOptions {
  /** The first retry waits up to this long; each further one up to twice as long. Default 500. */
  baseDelayMs?: number;
  /** No retry waits longer than this. Default 20000. */
  maxDelayMs?: number;
}

export const DEFAULT_BASE_DELAY_MS = 500;
export const DEFAULT_MAX_DELAY_MS = 20_000;

/**
 * "Full jitter": the n-th retry (from 0) waits a uniformly random time between 0 and
 * min(maxDelayMs, baseDelayMs * 2^n). Clients cut off together (a server restart) spread
 * their reconnects over the whole window instead of arriving in waves.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const base = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
  const max = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
