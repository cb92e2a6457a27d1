import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

const FIN_TEXT = 0x81;
const LENGTH_16_BIT = 126;
const LENGTH_64_BIT = 127;

/**
 * A text frame serialized and framed once, so a broadcast to N sockets costs N writes of
 * the same bytes instead of N encodings and N framings. Header and payload share one
 * buffer, written in place: a server frame is never masked (RFC 6455, section 5.2).
 */
export class PreparedFrame {
  readonly bytes: Buffer;

  /**
   * @param stream the frame's stream on the receiving connection ('u', 'b' or 't:<task>'),
   *   with `offset`, for frames kept in history: a connection that is catching up drops
   *   the live frames its recovery already sent.
   */
  constructor(
    readonly payload: string,
    readonly stream?: string,
    readonly offset?: number,
  ) {
    const length = Buffer.byteLength(payload);
    const headerLength = length < LENGTH_16_BIT ? 2 : length <= 0xffff ? 4 : 10;
    const bytes = Buffer.allocUnsafe(headerLength + length);
    bytes[0] = FIN_TEXT;
    if (headerLength === 2) {
      bytes[1] = length;
    } else if (headerLength === 4) {
      bytes[1] = LENGTH_16_BIT;
      bytes.writeUInt16BE(length, 2);
    } else {
      bytes[1] = LENGTH_64_BIT;
      bytes.writeBigUInt64BE(BigInt(length), 2);
    }
    bytes.write(payload, headerLength);
    this.bytes = bytes;
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
