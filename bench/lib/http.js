// Small JSON-over-HTTP client on keep-alive sockets: fetch() would add its own
// per-request overhead to the load generator, which shares the machine with the server.
import http from 'node:http';

export function createAgent(maxSockets = 256) {
  return new http.Agent({ keepAlive: true, maxSockets });
}

/** Sends a request and resolves to { status, body } (body parsed when JSON). */
export function request(method, url, { body, agent, headers = {}, timeoutMs = 60_000 } = {}) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method,
      agent,
      headers: payload === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode, body: parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.end(payload);
  });
}

export const postJson = (url, body, options = {}) => request('POST', url, { ...options, body });
export const getJson = (url, options = {}) => request('GET', url, options);

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
