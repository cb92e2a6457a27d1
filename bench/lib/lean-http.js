// A deliberately small HTTP/1.1 client for the load loops: one keep-alive socket, one
// request at a time, JSON in and out. node:http's client costs the load generator
// several times more CPU per request, and on a small machine that load generator,
// not the server, would then set the request rate.
import net from 'node:net';

const HEADER_END = Buffer.from('\r\n\r\n');

export class LeanHttpConnection {
  #host;
  #port;
  #extraHeaders;
  #socket;
  #buffer = Buffer.alloc(0);
  #pending; // { resolve, reject } of the one request in flight

  /** `headers` (name -> value) go with every request. */
  constructor(baseUrl, headers = {}) {
    const url = new URL(baseUrl);
    this.#host = url.hostname;
    this.#port = Number(url.port || 80);
    this.#extraHeaders = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  }

  /** POSTs `body` as JSON; resolves to { status, body } with the body parsed when JSON. */
  post(path, body, timeoutMs) {
    if (this.#pending) return Promise.reject(new Error('one request at a time'));
    const payload = JSON.stringify(body);
    const head = `POST ${path} HTTP/1.1\r\nHost: ${this.#host}:${this.#port}\r\n${this.#extraHeaders}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n`;
    const socket = this.#connected();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.#fail(new Error(`POST ${path} timed out after ${timeoutMs} ms`)), timeoutMs);
      this.#pending = {
        resolve: (value) => (clearTimeout(timer), resolve(value)),
        reject: (err) => (clearTimeout(timer), reject(err)),
      };
      socket.write(head + payload);
    });
  }

  close() {
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.destroy();
  }

  #connected() {
    if (this.#socket && !this.#socket.destroyed) return this.#socket;
    this.#buffer = Buffer.alloc(0);
    const socket = net.connect(this.#port, this.#host);
    socket.setNoDelay(true);
    // A socket given up on may still report; only the current one speaks for a request.
    const current = () => this.#socket === socket;
    socket.on('data', (chunk) => current() && this.#receive(chunk));
    socket.on('error', (err) => current() && this.#fail(err));
    socket.on('close', () => current() && this.#fail(new Error('connection closed by the server')));
    this.#socket = socket;
    return socket;
  }

  #receive(chunk) {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const headerEnd = this.#buffer.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = this.#buffer.toString('latin1', 0, headerEnd);
    const length = head.match(/\r\ncontent-length:\s*(\d+)/i);
    if (!length) return this.#fail(new Error(`response without Content-Length: ${head.split('\r\n')[0]}`));
    const bodyStart = headerEnd + HEADER_END.length;
    const bodyEnd = bodyStart + Number(length[1]);
    if (this.#buffer.length < bodyEnd) return;
    const text = this.#buffer.toString('utf8', bodyStart, bodyEnd);
    this.#buffer = this.#buffer.subarray(bodyEnd);
    const pending = this.#pending;
    this.#pending = undefined;
    if (/\r\nconnection:\s*close/i.test(head)) this.close();
    pending?.resolve({ status: Number(head.slice(9, 12)), body: parseJson(text) });
  }

  #fail(err) {
    const pending = this.#pending;
    this.#pending = undefined;
    this.close();
    pending?.reject(err);
  }
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
