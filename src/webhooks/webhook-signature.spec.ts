import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { webhookHeaders, webhookSignature } from './webhook-signature.js';

const secretOf = (key: Buffer) => `whsec_${key.toString('base64')}`;

describe('webhook signatures', () => {
  const body = JSON.stringify({ type: 'decision', data: { callback_id: 'cb-1', feedback: 'ok ✓' } });

  it('verify with the reference Standard Webhooks library', () => {
    const key = randomBytes(32);
    const now = Math.floor(Date.now() / 1000);
    const headers = webhookHeaders([key], 'msg_1', now, body);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secretOf(key)).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('carry one signature per secret, each verifying with its own secret alone', () => {
    const [current, previous, other] = [randomBytes(32), randomBytes(24), randomBytes(32)];
    const now = Math.floor(Date.now() / 1000);
    const headers = webhookHeaders([current, previous], 'msg_2', now, body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(secretOf(current)).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(secretOf(previous)).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(secretOf(other)).verify(body, headers)).toThrow('No matching signature found');
  });

  it('cover the id, the timestamp and the body', () => {
    const key = randomBytes(32);
    const now = Math.floor(Date.now() / 1000);
    const signature = webhookSignature([key], 'msg_3', now, body);
    const verifier = new Webhook(secretOf(key));
    const headers = { 'webhook-id': 'msg_3', 'webhook-timestamp': String(now), 'webhook-signature': signature };
    expect(() => verifier.verify(body, headers)).not.toThrow();
    expect(() => verifier.verify(body, { ...headers, 'webhook-id': 'msg_4' })).toThrow();
    expect(() => verifier.verify(body, { ...headers, 'webhook-timestamp': String(now + 1) })).toThrow();
    expect(() => verifier.verify(body.replace('ok', 'no'), headers)).toThrow();
  });

  it('are left out without a secret', () => {
    expect(webhookHeaders([], 'msg_5', 1, body)).toEqual({ 'webhook-id': 'msg_5', 'webhook-timestamp': '1' });
  });
});
