/** Longest delay setTimeout honours; a longer one fires after 1 ms instead. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Whole seconds that still fit in one timer (about 24.8 days). */
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/**
 * Runs `callback` at `at` (epoch ms) however far away that is, re-arming in steps a
 * timer can hold. Returns a handle whose `cancel` stops it.
 */
export function runAt(at: number, callback: () => void): { cancel(): void } {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const delay = at - Date.now();
    if (delay <= 0) return callback();
    timer = setTimeout(arm, Math.min(delay, MAX_TIMER_MS));
    timer.unref();
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}
