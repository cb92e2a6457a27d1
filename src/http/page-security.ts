/**
 * The policy of the service's own pages (the inbox, the API docs, the action link pages):
 * this origin's files and socket only, no inline script or style, no plugins, no framing.
 * `data:` images are icons in the stylesheets. Forms may post to this origin only: an action
 * link's page is one button, a form that posts to the link itself.
 */
const SAME_ORIGIN_PAGE_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
];

/** A Content-Security-Policy of the same-origin page policy plus a page's own directives. */
export function pageCsp(...extraDirectives: string[]): string {
  return [...SAME_ORIGIN_PAGE_POLICY, ...extraDirectives].join('; ');
}

/** Headers every page of the service is served with, under its policy. */
export function pageSecurityHeaders(csp: string): Readonly<Record<string, string>> {
  return {
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    // A token may be in a page's URL (the inbox's ?token=): never send it on as a referrer.
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cache-control': 'no-cache',
  };
}
