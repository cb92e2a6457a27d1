// HTTP plumbing shared by the two comparison servers, kept out of them so each shows
// only how it does the gateway's job.

export function send(res, status, body) {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

/** The request's JSON object body, or undefined when it is not one. */
export async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return body !== null && typeof body === 'object' && !Array.isArray(body) ? body : undefined;
  } catch {
    return undefined;
  }
}

/** Memory after a full collection (the process must run with --expose-gc). */
export function memoryReport() {
  globalThis.gc?.();
  globalThis.gc?.();
  return { ...process.memoryUsage(), gc: typeof globalThis.gc === 'function' };
}

/**
 * The HTTP side both comparison servers share: health, memory report, and the three
 * routes, each answered by the server's own `broadcast(body)`, `sendToUser(userId, body)`
 * (both returning how many sockets got it) and `notify(body)` (resolving to the decision).
 */
export function createRouter({ broadcast, sendToUser, notify }) {
  return async function route(req, res) {
    const { pathname } = new URL(req.url, 'http://x');
    if (req.method === 'GET' && pathname === '/health') return send(res, 200, { status: 'ok' });
    if (req.method === 'GET' && pathname === '/__bench/mem') return send(res, 200, memoryReport());
    if (req.method !== 'POST') return send(res, 404, { error: 'not found' });
    const body = await readJson(req);
    if (body === undefined) return send(res, 400, { error: 'body must be a JSON object' });
    if (pathname === '/broadcast') return send(res, 200, { delivered: broadcast(body) });
    const user = pathname.match(/^\/users\/([^/]+)\/messages$/);
    if (user) return send(res, 200, { delivered: sendToUser(decodeURIComponent(user[1]), body) });
    if (pathname === '/notify') return send(res, 200, await notify(body));
    send(res, 404, { error: 'not found' });
  };
}

/** The task_step_result frame of a POST /notify body, as the gateway sends it. */
export function stepResultFrame(callbackId, { user_id, task_id, step, step_result = {}, timeout_seconds = 300 }) {
  const now = Date.now() / 1000;
  return {
    type: 'task_step_result', callback_id: callbackId, step, step_name: step_result.step, message: step_result.message,
    result: step_result.result ?? null, status: step_result.status, completed: step_result.completed ?? false,
    error_code: step_result.error_code ?? null, error_message: step_result.error_message ?? null, user_id, task_id, timestamp: now, expires_at: now + timeout_seconds,
  };
}

/**
 * The decision of a POST /notify: resolves when `waiting` gets the user's answer for the
 * callback id (the socket handler calls the function it finds there), or at the timeout.
 */
export function decisionOf(waiting, callbackId, timeoutSeconds) {
  return new Promise((resolve) => {
    const finish = (answer, state) => {
      clearTimeout(timer);
      waiting.delete(callbackId);
      resolve({ callback_id: callbackId, state, proceed: answer.proceed, feedback: answer.feedback, timed_out: state === 'timed_out', cancelled: false });
    };
    const timer = setTimeout(() => finish({ proceed: false, feedback: null }, 'timed_out'), timeoutSeconds * 1000);
    waiting.set(callbackId, (answer) => finish(answer, answer.proceed ? 'confirmed' : 'rejected'));
  });
}
