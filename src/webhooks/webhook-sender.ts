import { lookup } from 'node:dns/promises';
import { request as httpRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { HostAllowList, nonPublicReason, normalizeHost } from './address-rules.js';

/** Response bytes read at most: receivers answer with a status; their bodies are not wanted. */
export const MAX_RESPONSE_BYTES = 4096;

export interface SendRules {
  allowedHosts: HostAllowList;
  allowPrivate: boolean;
  timeoutMs: number;
}

export interface SendResult {
  /** The receiver's status, or null when there was none (refused, unreachable, timed out). */
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
  /** The receiver's Retry-After, in ms. */
  retryAfterMs: number | null;
  /** Refused by the SSRF rules: retrying the same URL cannot help. */
  refused: boolean;
}

export type Resolver = (host: string) => Promise<Array<{ address: string; family: number }>>;

const systemResolver: Resolver = (host) => lookup(host, { all: true, verbatim: true });

/**
 * One POST of a webhook, SSRF-safe: the host must be allowed, its name is resolved once,
 * every address it resolves to must be public (unless WEBHOOK_ALLOW_PRIVATE), and the
 * connection goes to that same address (the Host header and TLS name stay the URL's), so a
 * second resolution cannot point it elsewhere. Redirects are not followed (a 3xx is a
 * failure like any non-2xx), at most 4 KiB of the answer is read, and the whole attempt
 * ends at `timeoutMs`.
 */
export async function sendWebhook(urlText: string, headers: Record<string, string>, body: string, rules: SendRules, resolve: Resolver = systemResolver): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const refusal = (error: string): SendResult => ({ statusCode: null, error, latencyMs: elapsed(), retryAfterMs: null, refused: true });
  const url = new URL(urlText);
  const host = normalizeHost(url.hostname);
  if (!rules.allowedHosts.allows(host)) return refusal(`refused: host ${host} is not in WEBHOOK_ALLOWED_HOSTS`);
  let address: string;
  try {
    address = await withTimeout(pickAddress(host, rules.allowPrivate, resolve), rules.timeoutMs, 'resolving the host');
  } catch (err) {
    const message = (err as Error).message;
    if (message.startsWith('refused:')) return refusal(message);
    return { statusCode: null, error: message, latencyMs: elapsed(), retryAfterMs: null, refused: false };
  }
  const remaining = Math.max(rules.timeoutMs - elapsed(), 1);
  try {
    const response = await post(url, address, host, headers, body, remaining, rules.timeoutMs);
    return { statusCode: response.statusCode, error: null, latencyMs: elapsed(), retryAfterMs: retryAfterMs(response.retryAfter), refused: false };
  } catch (err) {
    return { statusCode: null, error: (err as Error).message, latencyMs: elapsed(), retryAfterMs: null, refused: false };
  }
}

async function pickAddress(host: string, allowPrivate: boolean, resolve: Resolver): Promise<string> {
  const addresses = isIP(host) !== 0 ? [host] : (await resolve(host)).map((a) => a.address);
  if (addresses.length === 0) throw new Error(`${host} resolves to no address`);
  if (!allowPrivate) {
    for (const address of addresses) {
      const why = nonPublicReason(address);
      if (why) throw new Error(`refused: ${host} resolves to ${address}, which is ${why}`);
    }
  }
  return addresses[0];
}

/** `timeoutMs` is what is left of the attempt's `attemptTimeoutMs` after resolving the host; errors name the attempt's. */
function post(url: URL, address: string, host: string, headers: Record<string, string>, body: string, timeoutMs: number, attemptTimeoutMs: number): Promise<{ statusCode: number; retryAfter: string | undefined }> {
  const https = url.protocol === 'https:';
  const payload = Buffer.from(body);
  return new Promise((resolve, reject) => {
    const request = (https ? httpsRequest : httpRequest)({
      host: address,
      port: url.port === '' ? (https ? 443 : 80) : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      // The name the URL gave, not the address connected to: virtual hosts and TLS certificates go by it.
      servername: https && isIP(host) === 0 ? host : undefined,
      agent: false,
      headers: {
        host: url.host,
        'content-type': 'application/json',
        'content-length': String(payload.length),
        'user-agent': 'confirmation-gateway-webhooks',
        ...headers,
      },
    });
    const timer = setTimeout(() => request.destroy(new Error(`timed out after ${attemptTimeoutMs} ms`)), timeoutMs);
    request.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    request.once('response', (response: IncomingMessage) => {
      let read = 0;
      const done = () => {
        clearTimeout(timer);
        const retryAfter = response.headers['retry-after'];
        resolve({ statusCode: response.statusCode ?? 0, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter });
        response.destroy();
        request.destroy();
      };
      response.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read >= MAX_RESPONSE_BYTES) done();
      });
      response.once('end', done);
      response.once('error', done);
      response.once('close', done);
    });
    request.end(payload);
  });
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Retry-After as delay-seconds or an HTTP date, in ms from now; null when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | null {
  if (value === undefined || value.trim() === '') return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(at - now, 0);
}
