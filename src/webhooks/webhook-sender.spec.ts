import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { HostAllowList } from './address-rules.js';
import { retryDelayMs } from './webhook-dispatcher.service.js';
import { retryAfterMs, sendWebhook, SendRules } from './webhook-sender.js';

/** A real server on 127.0.0.1: the sender's connection, Host header and limits as they are on the wire. */
describe('sendWebhook', () => {
  let server: Server;
  let port: number;
  const seen: Array<{ host: string | undefined; url: string | undefined }> = [];
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ host: req.headers.host, url: req.url });
      req.resume();
      req.on('end', () => handler(req, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const rules = (over: Partial<SendRules> = {}): SendRules => ({ allowedHosts: new HostAllowList([]), allowPrivate: true, timeoutMs: 2000, ...over });

  it('connects to the address the name resolved to, once, keeping the URL host in the Host header', async () => {
    handler = (_req, res) => res.writeHead(204).end();
    let lookups = 0;
    const resolver = async () => {
      lookups++;
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const result = await sendWebhook(`http://hooks.example.test:${port}/in?a=1`, { 'webhook-id': 'msg_1' }, '{}', rules(), resolver);
    expect(result).toMatchObject({ statusCode: 204, error: null, refused: false });
    expect(lookups).toBe(1);
    expect(seen.at(-1)).toEqual({ host: `hooks.example.test:${port}`, url: '/in?a=1' });
  });

  it('refuses a name when any of its addresses is not public, sending nothing', async () => {
    const before = seen.length;
    const resolver = async () => [{ address: '93.184.216.34', family: 4 }, { address: '10.1.2.3', family: 4 }];
    const result = await sendWebhook(`http://rebind.example.test:${port}/`, {}, '{}', rules({ allowPrivate: false }), resolver);
    expect(result).toMatchObject({ statusCode: null, refused: true, error: 'refused: rebind.example.test resolves to 10.1.2.3, which is private' });
    const mapped = await sendWebhook(`http://mapped.example.test:${port}/`, {}, '{}', rules({ allowPrivate: false }), async () => [{ address: '::ffff:127.0.0.1', family: 6 }]);
    expect(mapped.error).toBe('refused: mapped.example.test resolves to ::ffff:127.0.0.1, which is loopback (IPv4 inside IPv6)');
    expect(seen.length).toBe(before);
  });

  it('refuses a host outside the allow-list before resolving it', async () => {
    const result = await sendWebhook('https://evil.test/', {}, '{}', rules({ allowedHosts: new HostAllowList(['*.example.com']) }), async () => {
      throw new Error('must not resolve');
    });
    expect(result).toMatchObject({ refused: true, error: 'refused: host evil.test is not in WEBHOOK_ALLOWED_HOSTS' });
  });

  it('does not follow a redirect, and reads Retry-After', async () => {
    handler = (_req, res) => res.writeHead(302, { location: '/elsewhere', 'retry-after': '7' }).end();
    const before = seen.length;
    const result = await sendWebhook(`http://127.0.0.1:${port}/hook`, {}, '{}', rules());
    expect(result).toMatchObject({ statusCode: 302, retryAfterMs: 7000 });
    expect(seen.slice(before).map((s) => s.url)).toEqual(['/hook']);
  });

  it('stops reading an answer after 4 KiB and ends an attempt at its timeout', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      const chunk = 'x'.repeat(64 * 1024);
      const write = () => {
        while (res.write(chunk));
        res.once('drain', write);
      };
      write();
    };
    const endless = await sendWebhook(`http://127.0.0.1:${port}/big`, {}, '{}', rules());
    expect(endless).toMatchObject({ statusCode: 200, error: null });
    handler = () => undefined; // never answers
    const hung = await sendWebhook(`http://127.0.0.1:${port}/slow`, {}, '{}', rules({ timeoutMs: 300 }));
    expect(hung).toMatchObject({ statusCode: null, refused: false, error: 'timed out after 300 ms' });
    expect(hung.latencyMs).toBeGreaterThanOrEqual(290);
    expect(hung.latencyMs).toBeLessThan(1500);
  });
});

describe('retry timing', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(10_000 + 5000).toUTCString(), 10_000)).toBe(5000);
    expect(retryAfterMs('soon')).toBeNull();
    expect(retryAfterMs(undefined)).toBeNull();
  });

  it('draws a full-jitter delay under an exponential ceiling capped at an hour, never below Retry-After', () => {
    expect(retryDelayMs(1, null, () => 0.999)).toBe(999);
    expect(retryDelayMs(4, null, () => 0.5)).toBe(4000);
    expect(retryDelayMs(40, null, () => 0.999)).toBe(3_596_400);
    expect(retryDelayMs(1, null, () => 0)).toBe(0);
    expect(retryDelayMs(1, 30_000, () => 0.5)).toBe(30_000);
  });
});
