import { MAX_TIMER_SECONDS } from '../common/timers.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';

/**
 * Reads `requires_ack` and `ack_timeout_seconds` from a caller's message body. The frame
 * keeps `requires_ack` (the client needs it) and loses `ack_timeout_seconds` (it does not).
 * Null when no ack is asked for; the body then goes out exactly as before.
 */
export function ackRequestOf(body: Record<string, unknown>, defaultTimeoutSeconds: number): { frame: Record<string, unknown>; timeoutSeconds: number } | null {
  const requiresAck = body.requires_ack;
  const timeout = body.ack_timeout_seconds;
  if (requiresAck !== undefined && typeof requiresAck !== 'boolean') {
    throw new GatewayError(ErrorCode.InvalidMessage, 'requires_ack must be a boolean');
  }
  if (timeout !== undefined) {
    if (requiresAck !== true) throw new GatewayError(ErrorCode.InvalidMessage, 'ack_timeout_seconds goes with requires_ack: true');
    if (typeof timeout !== 'number' || !(timeout > 0) || timeout > MAX_TIMER_SECONDS) {
      throw new GatewayError(ErrorCode.InvalidMessage, `ack_timeout_seconds must be a number above 0 and at most ${MAX_TIMER_SECONDS}`);
    }
  }
  // Most messages ask for no ack: they are not copied (a push profile showed the copy).
  if (requiresAck !== true) return null;
  const { ack_timeout_seconds: _dropped, ...frame } = body;
  return { frame, timeoutSeconds: (timeout as number | undefined) ?? defaultTimeoutSeconds };
}
