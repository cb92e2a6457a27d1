import { WebSocket } from 'ws';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What one socket of a resume flood saw. */
export interface FloodedSocket {
  bytes: number;
  /** broadcast_offset of every broadcast frame received, in order. */
  broadcastOffsets: number[];
  resumed: number;
  errors: Record<string, number>;
  /** The close code, if the server closed it during the flood. */
  closedWith?: number;
}

/**
 * The attack of issue 19.1: `sockets` connections of one user each send
 * `{"action":"resume","broadcast_epoch":E,"broadcast_offset":0}` every `everyMs` for
 * `durationMs`, reading what comes back. Resolves once the replies stopped coming.
 */
export async function floodWithResumes(wsUrl: string, userId: string, sockets: number, durationMs: number, everyMs = 50): Promise<FloodedSocket[]> {
  const opened = await Promise.all(Array.from({ length: sockets }, () => openCounting(`${wsUrl}/?user_id=${encodeURIComponent(userId)}`)));
  const deadline = Date.now() + durationMs;
  await Promise.all(
    opened.map(async ({ socket, epoch }) => {
      while (Date.now() < deadline && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ action: 'resume', broadcast_epoch: epoch, broadcast_offset: 0 }));
        await sleep(everyMs);
      }
    }),
  );
  // Let the last catch-ups finish: wait until no socket has received anything for a while.
  let total = -1;
  for (let quiet = 0; quiet < 5; ) {
    await sleep(100);
    const now = opened.reduce((sum, { seen }) => sum + seen.bytes, 0);
    quiet = now === total ? quiet + 1 : 0;
    total = now;
  }
  for (const { socket } of opened) {
    socket.removeAllListeners('close');
    socket.terminate();
  }
  return opened.map(({ seen }) => seen);
}

async function openCounting(url: string): Promise<{ socket: WebSocket; epoch: string; seen: FloodedSocket }> {
  const socket = new WebSocket(url);
  const seen: FloodedSocket = { bytes: 0, broadcastOffsets: [], resumed: 0, errors: {} };
  const connected = new Promise<string>((resolve, reject) => {
    socket.on('message', (data: Buffer) => {
      seen.bytes += data.length;
      const frame = JSON.parse(data.toString()) as Record<string, any>;
      if (frame.type === 'connected') resolve(frame.broadcast_epoch as string);
      else if (frame.type === 'resumed') seen.resumed++;
      else if (frame.type === 'error') seen.errors[frame.code] = (seen.errors[frame.code] ?? 0) + 1;
      else if (typeof frame.broadcast_offset === 'number') seen.broadcastOffsets.push(frame.broadcast_offset);
    });
    socket.once('error', reject);
  });
  socket.once('close', (code: number) => (seen.closedWith = code));
  return { socket, epoch: await connected, seen };
}

/** About `bytes` of JSON in a broadcast body. */
export function broadcastOfSize(bytes: number, seq: number): Record<string, unknown> {
  return { type: 'system_notification', message: `broadcast ${seq}`, padding: 'x'.repeat(bytes) };
}
