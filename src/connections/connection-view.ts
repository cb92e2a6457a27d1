import { epochSeconds } from '../protocol/server-frames.js';
import type { ClientConnection } from './client-connection.js';

const DEFLATE = 'permessage-deflate';

/** One open connection as GET /connections shows it. */
export interface ConnectionView {
  connection_id: string;
  user_id: string | null;
  instance: string;
  connected_since: number;
  rtt_ms: number | null;
  frames_in: number;
  frames_out: number;
  bytes_buffered: number;
  protocol: string | null;
  compression: string | null;
  subscribed_tasks: string[];
}

/** The open connections of the deployment: of every instance that answered in time. */
export interface ConnectionListing {
  /** The instances whose connections are listed (in memory mode, only this one). */
  instances: string[];
  /** Instances alive by the registry that did not answer in time: their connections are missing. */
  unreachable: string[];
  connections: ConnectionView[];
  /** Some instance had more than the limit: the list is not complete. */
  truncated: boolean;
}

/** Which connections to list: one user's, or all; at most `limit` per instance. */
export interface ConnectionFilter {
  userId?: string;
  limit: number;
}

export function connectionView(connection: ClientConnection, instance: string): ConnectionView {
  const { socket } = connection;
  return {
    connection_id: connection.id,
    user_id: connection.userId,
    instance,
    connected_since: epochSeconds(connection.connectedAt),
    rtt_ms: connection.rttMs,
    frames_in: connection.framesIn,
    frames_out: connection.framesOut,
    bytes_buffered: socket.bufferedAmount,
    protocol: socket.protocol === '' ? null : socket.protocol,
    compression: socket.extensions.includes(DEFLATE) ? DEFLATE : null,
    subscribed_tasks: [...connection.tasks],
  };
}
