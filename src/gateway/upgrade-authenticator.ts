import { Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { MAX_ID_LENGTH } from '../protocol/client-frames.js';

/** Who a WebSocket upgrade belongs to, settled before the socket opens. */
export interface UpgradeIdentity {
  userId: string | null;
}

/** The upgrade request after authentication, as the gateway receives it. */
export interface AuthenticatedRequest extends IncomingMessage {
  identity: UpgradeIdentity;
}

export class UpgradeRejected extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Decides who an upgrade request is. Today the user comes from `?user_id=` (or later
 * from a `subscribe` frame); a verified token replaces this one method.
 */
@Injectable()
export class UpgradeAuthenticator {
  authenticate(request: IncomingMessage, url: URL): UpgradeIdentity {
    const userId = url.searchParams.get('user_id');
    if (userId === null || userId === '') return { userId: null };
    if (userId.length > MAX_ID_LENGTH) {
      throw new UpgradeRejected(400, `user_id must be at most ${MAX_ID_LENGTH} characters`);
    }
    return { userId };
  }
}
