import type { HistoryEntry, HistoryPage, HistoryStore, PageLimits, StreamPosition, StreamRef } from '../history/history.store.js';

/** Where a catch-up reads its pages. */
export type PageReader = Pick<HistoryStore, 'readPage'>;

/** A client's last position in one stream. */
export interface ClientPosition {
  epoch: string;
  offset: number;
}

/** How one stream's catch-up reads and sends. */
export interface CatchUpIo {
  /** Sends one missed frame. */
  send(entry: HistoryEntry): void;
  /** Waits until the client has taken what was sent so far; false when it is gone. */
  paced(): Promise<boolean>;
}

export interface StreamCatchUpOptions {
  page: PageLimits;
  ttlMs: number;
  /** On a task stream: leave out frames this user got on its own stream. */
  forUser?: string;
}

/** What one stream's catch-up did. */
export interface StreamCatchUpResult {
  /** The stream's position when the catch-up began. */
  position: StreamPosition;
  /** Everything the client missed was sent. */
  recovered: boolean;
  /** Frames sent. */
  missed: number;
  /**
   * The connection has now been sent every frame after this offset; undefined when the
   * catch-up could not tell (another epoch, an offset ahead, the client gone).
   */
  sentFrom: number | undefined;
  /** The catch-up read up to here: held live frames at or below it were sent already (or precede the client). */
  through: number;
}

/**
 * One stream's catch-up for one connection. The connection has been sent every frame
 * after `sentFrom` (live, or by an earlier catch-up; undefined: none yet), so only the
 * frames after the client's offset and up to `sentFrom` are read, a bounded page at a
 * time, each page once the client has taken the previous one. A repeated position costs
 * one read of the stream's position. `start` reads the first page (and the position);
 * `finish` sends it and the rest.
 */
export class StreamCatchUp {
  private first?: HistoryPage;

  constructor(
    private readonly history: PageReader,
    private readonly ref: StreamRef,
    private readonly from: ClientPosition,
    private readonly sentFrom: number | undefined,
    private readonly options: StreamCatchUpOptions,
  ) {}

  async start(): Promise<StreamPosition> {
    this.first = await this.history.readPage(this.ref, this.from.offset + 1, this.sentFrom ?? null, this.options.page);
    return this.first.position;
  }

  async finish(io: CatchUpIo): Promise<StreamCatchUpResult> {
    const first = this.first ?? (await this.history.readPage(this.ref, this.from.offset + 1, this.sentFrom ?? null, this.options.page));
    const { position } = first;
    const through = Math.min(this.sentFrom ?? position.offset, position.offset);
    const unknown = { position, recovered: false, missed: 0, sentFrom: undefined, through };
    if (this.from.epoch !== position.epoch || this.from.offset > position.offset) return unknown;
    if (through <= this.from.offset) return { ...unknown, recovered: true, sentFrom: this.from.offset };
    const oldestKept = Date.now() - this.options.ttlMs;
    let expected = this.from.offset + 1;
    let sentFrom = this.from.offset;
    let missed = 0;
    let page = first;
    for (;;) {
      let last = expected - 1;
      for (const entry of page.entries) {
        if (entry.offset > through) break;
        last = entry.offset;
        if (entry.at < oldestKept) continue;
        // Trimming takes the oldest first: a frame after a hole starts what is still whole.
        if (entry.offset !== expected) sentFrom = entry.offset - 1;
        expected = entry.offset + 1;
        if (this.options.forUser === undefined || !entry.skipUsers?.includes(this.options.forUser)) {
          io.send(entry);
          missed++;
        }
      }
      if (page.entries.length === 0 || last >= through) break;
      if (!(await io.paced())) return { ...unknown, missed };
      page = await this.history.readPage(this.ref, last + 1, through, this.options.page);
      if (page.position.epoch !== position.epoch) return { ...unknown, missed };
    }
    if (expected <= through) sentFrom = through;
    return { position, recovered: sentFrom === this.from.offset, missed, sentFrom, through };
  }
}
