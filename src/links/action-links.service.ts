import { Injectable, Logger } from '@nestjs/common';
import { AuditTrail } from '../audit/audit-trail.service.js';
import type { Confirmation } from '../confirmations/confirmation.js';
import { ConfirmationService } from '../confirmations/confirmation.service.js';
import { infoLogged } from '../logging/info-logged.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import type { AnswerDetails } from '../confirmations/confirmation.service.js';
import type { LinkClaims } from './action-link-token.js';
import { approversOf, choicesOf, LinkIssuer, type LinkChoice } from './link-issuer.js';

/** What a link leads to, as its page shows it. Never says which check a refused link failed. */
export type LinkState =
  /** Tampered, not signed here, or naming an approver, choice or confirmation it may not. */
  | { kind: 'invalid' }
  /** The link's own expiry passed. */
  | { kind: 'expired' }
  /** A genuine link whose confirmation is no longer kept (retention passed). */
  | { kind: 'gone' }
  /** Decided already (by this link, another, or the WebSocket), timed out or cancelled. */
  | { kind: 'settled'; confirmation: Confirmation }
  /** This approver already voted (several approvers): their links are used up. */
  | { kind: 'voted'; confirmation: Confirmation }
  /** The answer was refused as it stands: the approver asked for it (forbid_self), or the form needs values only a client can give. */
  | { kind: 'refused'; confirmation: Confirmation; reason: string }
  /** Too many link look-ups at this moment: try again. */
  | { kind: 'busy' }
  | { kind: 'open'; confirmation: Confirmation; claims: LinkClaims; choice: LinkChoice };

/** The outcome of following a link with POST. */
export type LinkDecision =
  | Exclude<LinkState, { kind: 'open' }>
  | { kind: 'decided'; confirmation: Confirmation; choice: LinkChoice }
  /** A vote that did not settle it yet (several approvers): `confirmation` carries the votes so far. */
  | { kind: 'recorded'; confirmation: Confirmation; choice: LinkChoice };

declare module '../audit/audit-event.js' {
  interface AuditEventDetails {
    /** A valid link's page was shown (GET): `page` is what it showed. Never the token. */
    link_opened: { approver: string; choice: string; page: 'open' | 'settled' | 'voted' };
    /** A valid link was followed (POST): `outcome` is what came of it. Never the token. */
    link_used: { approver: string; choice: string; outcome: LinkUseOutcome };
  }
}

/** What following a valid link came to (`link_used`): `decided`, `recorded` (a vote), or why nothing changed. */
export type LinkUseOutcome = Exclude<LinkDecision['kind'], 'busy' | 'expired'>;

/** A valid link's opening is recorded at most once per this long per instance (mail scanners, reloads). */
const OPENED_AUDIT_INTERVAL_MS = 60_000;
/** Links whose last opening an instance remembers, at most (the oldest are forgotten first). */
const MAX_OPENED_REMEMBERED = 10_000;

/** A link that passed every check, with the confirmation it names (for the audit trail). */
type Looked = { state: LinkState; valid?: { confirmation: Confirmation; claims: LinkClaims } };

/**
 * Link look-ups (a store read, and a settle for a POST) in progress on this instance at
 * once; past it a link page answers 503. Only genuine, unexpired tokens get this far: the
 * signature is checked first, in constant time, with nothing read.
 */
const MAX_LOOKUPS_IN_FLIGHT = 64;

/**
 * Following one-click action links: signed capability tokens that let an approver answer a
 * prompt from an email or chat message, without the WebSocket client. A link names the
 * confirmation, the approver, the choice, its expiry and the confirmation's link nonce;
 * following it (POST /a/<token>) answers through ConfirmationService as that approver,
 * which settles once, so a link decides at most once.
 */
@Injectable()
export class ActionLinksService {
  private readonly logger = new Logger(ActionLinksService.name);
  private inFlight = 0;
  /** When each valid link's opening was last recorded here (key: confirmation, nonce, approver, choice). */
  private readonly openedAt = new Map<string, number>();

  constructor(
    private readonly issuer: LinkIssuer,
    private readonly confirmations: ConfirmationService,
    private readonly audit: AuditTrail,
  ) {}

  get enabled(): boolean {
    return this.issuer.enabled;
  }

  /** What the link leads to, for its page (GET): decides nothing; a valid link's opening is audited (`link_opened`). */
  inspect(token: string): Promise<LinkState> {
    return this.bounded(async () => {
      const { state, valid } = await this.lookUp(token);
      if (valid && (state.kind === 'open' || state.kind === 'settled' || state.kind === 'voted')) this.recordOpened(valid.claims, valid.confirmation, state.kind);
      return state;
    });
  }

  /** Follows the link (POST): answers the prompt as its approver with its choice, once; a valid link's use is audited (`link_used`). */
  decide(token: string): Promise<LinkDecision> {
    return this.bounded(async (): Promise<LinkDecision> => {
      const { state, valid } = await this.lookUp(token);
      const decision = state.kind === 'open' ? await this.answer(state) : state;
      if (valid && decision.kind !== 'busy' && decision.kind !== 'expired') {
        const { approver, choice } = valid.claims;
        this.audit.record('link_used', valid.confirmation, { approver, choice, outcome: decision.kind });
      }
      return decision;
    });
  }

  private async answer({ confirmation, claims, choice }: Extract<LinkState, { kind: 'open' }>): Promise<LinkDecision> {
    try {
      const after = await this.confirmations.answer(confirmation.callbackId, claims.approver, choice.proceed, null, undefined, detailsOf(confirmation, choice));
      if (infoLogged()) this.logger.log(`Confirmation ${confirmation.callbackId} answered by ${claims.approver} through an action link (${choice.id})`);
      return { kind: after.state === 'pending' ? 'recorded' : 'decided', confirmation: after, choice };
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      if (err.code === ErrorCode.AlreadyVoted) return { kind: 'voted', confirmation };
      if (err.code === ErrorCode.SelfApprovalForbidden) return { kind: 'refused', confirmation, reason: 'You asked for this approval, so you may not approve it.' };
      if (err.code === ErrorCode.InvalidAnswer) return { kind: 'refused', confirmation, reason: 'This choice needs values the proposed ones do not give: answer it in the inbox.' };
      // Another answer came first (a second click, another approver, the WebSocket, the expiry).
      const now = await this.confirmations.get(confirmation.callbackId);
      if (now && now.state !== 'pending') return { kind: 'settled', confirmation: now };
      return now ? { kind: 'invalid' } : { kind: 'gone' };
    }
  }

  /** Records `link_opened`, once per link per OPENED_AUDIT_INTERVAL_MS here: repeated GETs cannot crowd a trail. */
  private recordOpened(claims: LinkClaims, confirmation: Confirmation, page: 'open' | 'settled' | 'voted'): void {
    const key = `${claims.callbackId}\n${claims.nonce}\n${claims.approver}\n${claims.choice}`;
    const now = Date.now();
    const last = this.openedAt.get(key);
    if (last !== undefined && now - last < OPENED_AUDIT_INTERVAL_MS) return;
    this.openedAt.delete(key);
    this.openedAt.set(key, now);
    if (this.openedAt.size > MAX_OPENED_REMEMBERED) this.openedAt.delete(this.openedAt.keys().next().value!);
    this.audit.record('link_opened', confirmation, { approver: claims.approver, choice: claims.choice, page });
  }

  /** The link's state; `valid` once it passed every check (signature, nonce, choice, approver). */
  private async lookUp(token: string): Promise<Looked> {
    // The signature first: nothing is read for a token this gateway did not sign.
    const verified = this.issuer.verify(token);
    if (!verified.ok) return { state: { kind: verified.reason } };
    const { claims } = verified;
    const confirmation = await this.confirmations.get(claims.callbackId);
    if (!confirmation) return { state: { kind: 'gone' } };
    // A link of an earlier confirmation that had this callback_id, or of one that asked for none.
    if (confirmation.links?.nonce !== claims.nonce) return { state: { kind: 'invalid' } };
    const choice = choicesOf(confirmation).find((c) => c.id === claims.choice);
    if (!choice || !approversOf(confirmation).includes(claims.approver)) return { state: { kind: 'invalid' } };
    const valid = { confirmation, claims };
    if (confirmation.state !== 'pending') return { state: { kind: 'settled', confirmation }, valid };
    if (confirmation.votes?.some((v) => v.userId === claims.approver)) return { state: { kind: 'voted', confirmation }, valid };
    return { state: { kind: 'open', confirmation, claims, choice }, valid };
  }

  private async bounded<T extends { kind: string }>(lookUp: () => Promise<T>): Promise<T | { kind: 'busy' }> {
    if (this.inFlight >= MAX_LOOKUPS_IN_FLIGHT) return { kind: 'busy' };
    this.inFlight++;
    try {
      return await lookUp();
    } finally {
      this.inFlight--;
    }
  }
}

/**
 * The answer a link gives: its option (a prompt with options) and, when it proceeds on a
 * prompt with a form, the form's proposed values (its defaults: "approve as proposed").
 */
function detailsOf(confirmation: Confirmation, choice: LinkChoice): AnswerDetails {
  const details: AnswerDetails = {};
  if (choice.option) details.option = choice.id;
  if (choice.proceed && confirmation.approval?.form) details.data = {};
  return details;
}
