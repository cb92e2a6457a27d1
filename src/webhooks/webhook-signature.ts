import { createHmac } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com/): the HMAC-SHA256, with
 * the secret's decoded bytes as the key, of `<webhook-id>.<webhook-timestamp>.<body>`,
 * sent as `v1,<base64>`. One signature per secret, space-separated, so receivers that
 * know either the new or the old secret accept a webhook during a rotation.
 */
export function webhookSignature(secrets: readonly Buffer[], id: string, timestampSeconds: number, body: string): string {
  const signed = `${id}.${timestampSeconds}.${body}`;
  return secrets.map((key) => `v1,${createHmac('sha256', key).update(signed).digest('base64')}`).join(' ');
}

/** The headers of one attempt; without secrets (allowed outside production only) there is no signature. */
export function webhookHeaders(secrets: readonly Buffer[], id: string, timestampSeconds: number, body: string): Record<string, string> {
  const headers: Record<string, string> = { 'webhook-id': id, 'webhook-timestamp': String(timestampSeconds) };
  if (secrets.length > 0) headers['webhook-signature'] = webhookSignature(secrets, id, timestampSeconds, body);
  return headers;
}
