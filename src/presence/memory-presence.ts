import { PRESENCE_TTL_MS, Presence, PresentConnection } from './presence.js';

interface UserEntries {
  /** Connection ids in the order they joined (a Map keeps insertion order). */
  connections: Map<string, number>;
  /** The entries go, all at once, this long after the user's last join. */
  expiresAt: number;
}

/** One process: every connection is this instance's. Same rules as the Redis presence. */
export class MemoryPresence extends Presence {
  private readonly users = new Map<string, UserEntries>();

  constructor(
    private readonly instanceId: string,
    private readonly ttlMs = PRESENCE_TTL_MS,
  ) {
    super();
  }

  async join(userId: string, connectionId: string, limit: number): Promise<PresentConnection[]> {
    const now = Date.now();
    let entries = this.users.get(userId);
    if (!entries || entries.expiresAt <= now) {
      entries = { connections: new Map(), expiresAt: 0 };
      this.users.set(userId, entries);
    }
    entries.connections.delete(connectionId);
    entries.connections.set(connectionId, now);
    entries.expiresAt = now + this.ttlMs;
    const excess = entries.connections.size - limit;
    const oldest: PresentConnection[] = [];
    for (const id of entries.connections.keys()) {
      if (oldest.length >= excess) break;
      if (id === connectionId) continue;
      oldest.push({ instance: this.instanceId, connectionId: id });
    }
    for (const { connectionId: id } of oldest) entries.connections.delete(id);
    return oldest;
  }

  async leave(userId: string, connectionId: string): Promise<void> {
    const entries = this.users.get(userId);
    if (!entries) return;
    entries.connections.delete(connectionId);
    if (entries.connections.size === 0) this.users.delete(userId);
  }
}
