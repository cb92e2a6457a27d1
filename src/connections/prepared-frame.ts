import type { Socket } from 'node:net';
import * as ws from 'ws';
import type { WebSocket } from 'ws';

/** ws exports its frame encoder at runtime; its type definitions leave it out. */
const { Sender } = ws as unknown as {
  Sender: { frame(data: Buffer, options: Record<string, unknown>): [Buffer, Buffer] };
};

/**
 * A text frame serialized and framed once, so a broadcast to N sockets costs N writes of
 * the same bytes instead of N encodings and N framings.
 */
export class PreparedFrame {
  readonly bytes: Buffer;

  constructor(readonly payload: string) {
    const [header, data] = Sender.frame(Buffer.from(payload), { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false });
    this.bytes = Buffer.concat([header, data]);
  }
}

/** The parts of ws's WebSocket this module relies on (stable across ws 8). */
interface WsInternals {
  _socket?: Socket;
  _sender?: { _state: number; _queue: unknown[]; _extensions: Record<string, unknown> };
}

const SENDER_IDLE = 0;
const DEFLATE = 'permessage-deflate';

/**
 * Writes a prepared frame straight to the socket's TCP stream. That is only in order when
 * ws's own sender has nothing queued (it queues while compressing or converting blobs);
 * otherwise, for a socket that negotiated permessage-deflate (so ws compresses), or should
 * ws's internals change, it falls back to `send`.
 */
export function writePrepared(socket: WebSocket, frame: PreparedFrame): void {
  const { _socket: stream, _sender: sender } = socket as unknown as WsInternals;
  if (stream && sender?._state === SENDER_IDLE && sender._queue.length === 0 && !sender._extensions[DEFLATE]) {
    stream.write(frame.bytes);
  } else {
    socket.send(frame.payload);
  }
}
