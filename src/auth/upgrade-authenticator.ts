import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { IncomingMessage } from 'node:http';
import { AuthMode, Environment, splitList } from '../config/environment.js';
import type { ConnectionIdentity } from '../connections/connection.service.js';
import { bearerToken } from './bearer-token.js';
import { idProblem } from '../protocol/id.js';
import { groupsOf } from '../approvals/groups.js';
import { GATEWAY_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX } from '../protocol/subprotocol.js';
import { InvalidToken, TokenVerifier } from './token-verifier.service.js';

/** Who a WebSocket upgrade belongs to, settled before the socket opens. */
export type UpgradeIdentity = ConnectionIdentity;

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
 * Decides who an upgrade request is and whether its origin may connect. In `jwt` mode the
 * user is the verified token's `sub`; in `none` mode `?user_id=` is taken on trust.
 */
@Injectable()
export class UpgradeAuthenticator {
  private readonly logger = new Logger(UpgradeAuthenticator.name);
  private readonly mode: AuthMode;
  private readonly allowedOrigins: ReadonlySet<string>;

  constructor(
    config: ConfigService<Environment, true>,
    private readonly tokens: TokenVerifier,
  ) {
    this.mode = config.get('AUTH_MODE', { infer: true });
    this.allowedOrigins = new Set(splitList(config.get('WEBSOCKET_ALLOWED_ORIGINS', { infer: true })));
  }

  async authenticate(request: IncomingMessage, url: URL): Promise<UpgradeIdentity> {
    this.checkOrigin(request.headers.origin);
    return this.mode === 'jwt' ? this.fromToken(request, url) : this.fromQuery(url);
  }

  private checkOrigin(origin: string | undefined): void {
    // Non-browser clients send no Origin; browsers always do.
    if (origin === undefined || this.allowedOrigins.size === 0 || this.allowedOrigins.has(origin)) return;
    throw new UpgradeRejected(403, `Origin ${origin.slice(0, 200)} is not allowed`);
  }

  private async fromToken(request: IncomingMessage, url: URL): Promise<UpgradeIdentity> {
    const token = tokenOf(request, url);
    if (!token) throw new UpgradeRejected(401, 'A token is required (?token=, Authorization: Bearer, or subprotocol bearer.<token>)');
    try {
      return await this.tokens.verify(token);
    } catch (err) {
      if (!(err instanceof InvalidToken)) this.logger.error(`Token verification failed: ${(err as Error).message}`);
      throw new UpgradeRejected(401, err instanceof InvalidToken ? err.message : 'Token could not be verified');
    }
  }

  private fromQuery(url: URL): UpgradeIdentity {
    const userId = url.searchParams.get('user_id');
    if (userId === null || userId === '') return { userId: null, expiresAt: null };
    const problem = idProblem(userId);
    if (problem) throw new UpgradeRejected(400, `user_id ${problem}`);
    // Development only: ?groups=a,b stands in for the token's groups claim.
    const groups = url.searchParams.get('groups');
    if (groups === null || groups === '') return { userId, expiresAt: null };
    return { userId, expiresAt: null, groups: groupsOf(groups.split(',')) };
  }
}

function tokenOf(request: IncomingMessage, url: URL): string | null {
  const fromQuery = url.searchParams.get('token');
  if (fromQuery) return fromQuery;
  const fromHeader = bearerToken(request.headers.authorization);
  if (fromHeader) return fromHeader;
  const protocols = request.headers['sec-websocket-protocol']?.split(',').map((p) => p.trim()) ?? [];
  const carrier = protocols.find((p) => p.startsWith(TOKEN_SUBPROTOCOL_PREFIX));
  return carrier ? carrier.slice(TOKEN_SUBPROTOCOL_PREFIX.length) : null;
}

/**
 * The subprotocol to accept: the gateway's own name when offered, else none (browsers
 * accept that). Never another one: an offered `bearer.<jwt>` echoed back would put the token
 * in the handshake answer, on the socket and in every listing of it.
 */
export function selectProtocol(offered: Set<string>): string | false {
  return offered.has(GATEWAY_SUBPROTOCOL) ? GATEWAY_SUBPROTOCOL : false;
}
