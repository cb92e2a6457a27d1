import type { StreamRef } from '../history/history.store.js';

/** A frame of a stream, with its offset, before it is framed for the sockets. */
export class StreamFrame {
  constructor(
    readonly json: string,
    /** The stream's key on a connection (connectionStreamKey). */
    readonly stream: string,
    readonly offset: number,
  ) {}
}

/** One frame for one stream, as a service hands it to the broker. */
export interface Publication {
  stream: StreamRef;
  /** The frame's JSON, without an offset (the broker adds it when history is kept). */
  json: string;
  /** Users whose connections get this task frame on their own stream already. */
  skipUsers?: readonly string[];
  /** The connection that caused the frame, left out. */
  exceptConnectionId?: string;
  /** When the request that caused the frame was accepted (epoch ms). */
  acceptedAt: number;
}

/** A published frame as it reaches an instance, to be written to its sockets of the stream. */
export interface Arrival {
  stream: StreamRef;
  /** With its offset when the stream's history is kept, the plain JSON otherwise. */
  frame: StreamFrame | string;
  skipUsers?: readonly string[];
  exceptConnectionId?: string;
  acceptedAt?: number;
  /** The publisher's trace context, when tracing is on and the frame was published in a span. */
  trace?: string;
}

/**
 * The seam every frame of a stream goes through, as Centrifugo's Broker.Publish: publishing
 * appends the frame to its stream's history (when history is kept) and fans it out to every
 * instance with a subscriber of the stream, as one operation, so offsets and the order frames
 * arrive in never disagree. In memory that is one synchronous call; in Redis one script.
 */
export abstract class Broker {
  /**
   * Publishes the frame. Resolves to how far it reached: sockets written to in memory,
   * instances subscribed to the stream in Redis.
   */
  abstract publish(publication: Publication): Promise<number>;

  /** Where frames published on any instance arrive on this one; the listener answers sockets written to. */
  abstract onArrival(listener: (arrival: Arrival) => number): void;

  /** Frames of the stream reach this instance from now on; resolves once they do. */
  abstract subscribe(stream: StreamRef): Promise<void>;

  abstract unsubscribe(stream: StreamRef): void;

  /** Resolves once frames of the stream reach this instance (at once when nothing is pending). */
  abstract reachable(stream: StreamRef): Promise<void>;
}
