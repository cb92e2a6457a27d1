/** Longest delay setTimeout honours; a longer one fires after 1 ms instead. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Whole seconds that still fit in one timer (about 24.8 days). */
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/** A timer for a moment that may lie further ahead than one setTimeout holds. */
export interface LongTimer {
  cancel(): void;
}

/**
 * Calls `run` at `at` (epoch ms), however far ahead: past MAX_TIMER_MS it re-arms until the
 * moment has come. Unref'd unless `ref` (a pending decision must not keep a process alive
 * on its own).
 */
export function timerAt(at: number, run: () => void, ref = false): LongTimer {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const delay = at - Date.now();
    if (delay <= 0) return void run();
    timer = setTimeout(arm, Math.min(delay, MAX_TIMER_MS));
    if (!ref) timer.unref();
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}
