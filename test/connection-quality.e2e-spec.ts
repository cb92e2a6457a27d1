import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sleep, startTestApp, TestApp } from './support/test-app.js';

describe('connection quality and monitoring figures', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ WEBSOCKET_PING_INTERVAL: 0.2, WEBSOCKET_PING_TIMEOUT: 5 });
  });
  afterAll(() => t.close());

  it('measures RTT from the keepalive pings: per connection, in the pong, and as a histogram', async () => {
    const quinn = await t.connect('quinn');
    await sleep(700);
    const pong = await quinn.request({ action: 'ping' }, 'pong');
    expect(pong.rtt_ms).toEqual(expect.any(Number));
    const listed = await t.http('GET', '/connections?user_id=quinn');
    expect(listed.status).toBe(200);
    expect(listed.body.count).toBe(1);
    expect(listed.body.connections[0]).toMatchObject({
      connection_id: quinn.frames[0].connection_id,
      user_id: 'quinn',
      instance: listed.body.instance,
      connected_since: expect.any(Number),
      rtt_ms: expect.any(Number),
      frames_in: 1,
      frames_out: expect.any(Number),
      bytes_buffered: 0,
      protocol: null,
      compression: null,
    });
    expect(listed.body.connections[0].frames_out).toBeGreaterThanOrEqual(2);
    expect((await t.http('GET', '/connections?user_id=nobody')).body.count).toBe(0);
    const metrics = (await t.http('GET', '/metrics')).body as string;
    expect(Number(/gateway_connection_rtt_seconds_count (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
  });

  it('observes ack latency', async () => {
    const rae = await t.connect('rae');
    await t.http('POST', '/users/rae/messages', { type: 'personal_notification', message: 'x', requires_ack: true });
    const { message_id: id } = await rae.next('personal_notification');
    await rae.request({ action: 'ack', message_id: id }, 'ack_accepted');
    const metrics = (await t.http('GET', '/metrics')).body as string;
    expect(Number(/gateway_ack_seconds_count (\d+)/.exec(metrics)?.[1])).toBe(1);
  });
});
