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
