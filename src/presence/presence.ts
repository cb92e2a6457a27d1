/** One of a user's connections, and the instance holding it. */
export interface PresentConnection {
  instance: string;
  connectionId: string;
}

/** A day without a new connection and a user's entries go (those of crashed instances too). */
export const PRESENCE_TTL_MS = 86_400_000;

/**
 * Every user's open connections across the deployment, oldest first, so the per-user
 * connection limit holds wherever the connections are.
 */
export abstract class Presence {
  /**
   * Counts the connection (connected now) among its user's; answers the user's oldest
   * others past `limit`, already removed, oldest first, so two joins never pick the same one.
   */
  abstract join(userId: string, connectionId: string, limit: number): Promise<PresentConnection[]>;

  /** The connection stopped counting for its user. */
  abstract leave(userId: string, connectionId: string): Promise<void>;
}
