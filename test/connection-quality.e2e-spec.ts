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
    expect(listed.body).toMatchObject({ instances: [listed.body.instance], unreachable: [], truncated: false });
    const metrics = (await t.http('GET', '/metrics')).body as string;
    expect(Number(/gateway_connection_rtt_seconds_count (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
  });

  it('lists at most `limit` connections and says the list was cut', async () => {
    await Promise.all([t.connect('vic'), t.connect('vic'), t.connect('vic')]);
    const cut = await t.http('GET', '/connections?user_id=vic&limit=2');
    expect(cut.body).toMatchObject({ count: 2, truncated: true });
    expect(cut.body.connections).toHaveLength(2);
    expect((await t.http('GET', '/connections?user_id=vic&limit=3')).body).toMatchObject({ count: 3, truncated: false });
    const refused = await t.http('GET', '/connections?limit=0');
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toMatch(/limit/);
  });

  it('observes delivery latency once per frame that reached a socket, from the request\'s acceptance', async () => {
    const deliveries = async () => Number(/^gateway_delivery_latency_seconds_count (\d+)/m.exec((await t.http('GET', '/metrics')).body)?.[1]);
    const tabs = [await t.connect('sam'), await t.connect('sam')];
    const before = await deliveries();
    await t.http('POST', '/users/sam/messages', { type: 'personal_notification', message: 'two tabs, one frame' });
    await t.http('POST', '/users/nobody-here/messages', { type: 'personal_notification', message: 'no socket' });
    for (const tab of tabs) await tab.next('personal_notification');
    expect((await deliveries()) - before).toBe(1);
    const metrics = (await t.http('GET', '/metrics')).body as string;
    expect(metrics).toMatch(/gateway_delivery_latency_seconds_bucket\{le="0.001"\}/);
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
