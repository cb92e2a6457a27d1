/** Shown instead of a secret in log lines. */
export const REDACTED = '[Redacted]';

/**
 * Header paths pino removes from any logged object, should a header map ever be logged.
 * Request lines themselves carry no headers (see requestLogFields).
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
  'headers.authorization',
  'headers.cookie',
  'headers["sec-websocket-protocol"]',
];

/** Query parameters that carry credentials (`?token=` on upgrades; none elsewhere, but a caller may try). */
const SECRET_PARAMETERS = /([?&](?:token|access_token|api_key|apikey|key)=)[^&#]*/gi;

/** An action link's path: its token is a capability (src/links/), its assets are not. */
const ACTION_LINK_PATH = /^\/a\/(?!assets\/)[^?#]*/;

/**
 * The URL with the values of credential parameters and an action link's token replaced,
 * e.g. `/ws?token=[Redacted]`, `/a/[Redacted]`.
 */
export function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(ACTION_LINK_PATH, `/a/${REDACTED}`).replace(SECRET_PARAMETERS, `$1${REDACTED}`);
}
