import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import { actionLinksEnabled, splitList, type Environment } from '../config/environment.js';
import type { Confirmation, NewConfirmation } from '../confirmations/confirmation.js';
import type { ActionLinksRequest } from '../protocol/action-links-request.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { epochSeconds } from '../protocol/server-frames.js';
import { LinkSigner, MAX_TOKEN_LENGTH, type Verification } from './action-link-token.js';

/** One action link as the task service receives it, to send to the approver. */
export interface ActionLink {
  approver: string;
  /** `proceed` or `reject` (a prompt without options), else an option id. */
  choice: string;
  /** Whether following it lets the task proceed. */
  proceed: boolean;
  url: string;
  expires_at: number;
}

/** A choice a link can carry. */
export interface LinkChoice {
  id: string;
  proceed: boolean;
  /** The option's label (a prompt with options). */
  label?: string;
  /** Set when the choice is one of the prompt's options (not plain proceed/reject). */
  option?: boolean;
}

/** Without options a prompt has two choices. */
const PROCEED_OR_REJECT: readonly LinkChoice[] = [
  { id: 'proceed', proceed: true },
  { id: 'reject', proceed: false },
];

/**
 * Who gets links: the listed approver users when the prompt names approvers (issue 21: that
 * list is exactly who may answer), else the confirmation's own user. Members of listed
 * groups get no links (a group cannot be enumerated); they answer in a client.
 */
export function approversOf(confirmation: Confirmation): string[] {
  return confirmation.approval?.approvers ? [...new Set(confirmation.approval.approvers.users)] : [confirmation.userId];
}

/** The prompt's options when it has some (each with its own `proceed`), else proceed and reject. */
export function choicesOf(confirmation: Confirmation): readonly LinkChoice[] {
  const options = confirmation.approval?.options;
  if (!options) return PROCEED_OR_REJECT;
  return options.map((o) => ({ id: o.id, proceed: o.proceed, label: o.label, option: true }));
}

/**
 * Signs and checks action links (LINK_SIGNING_SECRET, PUBLIC_BASE_URL). Global (LinksModule),
 * so the routes that show a confirmation (POST /notify, GET /confirmations/:id) can add its
 * links without depending on the link pages, which depend on ConfirmationService.
 */
@Injectable()
export class LinkIssuer {
  private readonly logger = new Logger(LinkIssuer.name);
  readonly enabled: boolean;
  private readonly signer: LinkSigner | null;
  private readonly publicBaseUrl: string | undefined;

  constructor(config: ConfigService<Environment, true>) {
    this.enabled = actionLinksEnabled({ ACTION_LINKS_ENABLED: config.get('ACTION_LINKS_ENABLED', { infer: true }), NODE_ENV: config.get('NODE_ENV', { infer: true }) });
    const secrets = splitList(config.get('LINK_SIGNING_SECRET', { infer: true }) ?? '');
    this.publicBaseUrl = config.get('PUBLIC_BASE_URL', { infer: true })?.replace(/\/+$/, '');
    if (!this.enabled) {
      this.signer = null;
    } else if (secrets.length > 0) {
      this.signer = new LinkSigner(secrets);
    } else {
      // Production refuses to start this way (environment.ts).
      this.signer = LinkSigner.ephemeral();
      this.logger.warn('LINK_SIGNING_SECRET is not set: action links are signed with a random secret of this process; they stop working when it restarts and on other instances');
    }
  }

  /** The `links` field of POST /notify as ConfirmationService.create takes it; refused when links are off or would not fit. */
  requested(links: ActionLinksRequest | null | undefined, approverIds: readonly string[], callbackId: string | undefined): NewConfirmation['links'] {
    if (links === undefined || links === null || links === false) return undefined;
    if (!this.signer) throw new GatewayError(ErrorCode.InvalidMessage, 'links: action links are disabled on this gateway (ACTION_LINKS_ENABLED)');
    // The longest token this prompt's links would have (a generated callback_id is a UUID; an option id is at most 64 characters).
    const longest = this.signer.sign({ callbackId: callbackId ?? '00000000-0000-0000-0000-000000000000', approver: approverIds.reduce((a, b) => (Buffer.byteLength(b) > Buffer.byteLength(a) ? b : a), ''), choice: 'x'.repeat(64), expiresAt: 4_102_444_800.123, nonce: 'x'.repeat(22) });
    if (longest.length > MAX_TOKEN_LENGTH) {
      throw new GatewayError(ErrorCode.InvalidMessage, `links: an approver's id and callback_id are too long for a link (its token would be ${longest.length} characters, at most ${MAX_TOKEN_LENGTH})`);
    }
    return links === true ? {} : { expiresInSeconds: links.expires_in_seconds };
  }

  /**
   * The confirmation's links (for each approver, each choice), or undefined when it asked
   * for none. The same links every time they are shown (until the first secret changes).
   */
  linksOf(confirmation: Confirmation, request: FastifyRequest): ActionLink[] | undefined {
    const grant = confirmation.links;
    if (!grant || !this.signer) return undefined;
    const signer = this.signer;
    const base = `${this.baseUrl(request)}/a/`;
    const expiresAt = epochSeconds(grant.expiresAt);
    return approversOf(confirmation).flatMap((approver) =>
      choicesOf(confirmation).map((choice) => ({
        approver,
        choice: choice.id,
        proceed: choice.proceed,
        url: base + signer.sign({ callbackId: confirmation.callbackId, approver, choice: choice.id, expiresAt, nonce: grant.nonce }),
        expires_at: expiresAt,
      })),
    );
  }

  /** The token's claims if this gateway signed it and it has not expired (see LinkSigner.verify). */
  verify(token: string): Verification {
    return this.signer ? this.signer.verify(token) : { ok: false, reason: 'invalid' };
  }

  /** PUBLIC_BASE_URL, else (development) the address this request came to. */
  private baseUrl(request: FastifyRequest): string {
    return this.publicBaseUrl ?? `${request.protocol}://${request.headers.host ?? 'localhost'}`;
  }
}
