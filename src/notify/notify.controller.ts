import { Controller, HttpCode, HttpStatus, Post, Res } from '@nestjs/common';
import { IdParam, JsonObjectBody, ValidBody, ValidQuery } from '../http/route-input.js';
import { ApiAcceptedResponse, ApiOkResponse, ApiTags } from '../docs/api-decorators.js';
import type { FastifyReply } from 'fastify';
import { toDecision } from '../confirmations/confirmation.js';
import { ConfirmationService } from '../confirmations/confirmation.service.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { ApiErrors, ApiSharedState } from '../docs/api-errors.decorator.js';
import { DecisionSchema, DeliveredSchema, MessageDeliveredSchema, PendingConfirmationSchema } from '../docs/response-schemas.js';
import { ErrorCode } from '../protocol/error-code.enum.js';
import { epochSeconds } from '../protocol/server-frames.js';
import { answerStillPending, stopWhenCallerLeaves } from '../http/long-poll.js';
import { acceptedAt } from '../http/accepted-at.js';
import { NotifyQueryDto } from './dto/notify-query.dto.js';
import { NotifyRequestDto } from './dto/notify-request.dto.js';
import { AckService, toAckView } from '../acks/ack.service.js';
import { ackRequestOf } from '../acks/ack-request.js';
import { AckQueryDto } from '../acks/dto/ack-query.dto.js';
import { CallbackRequestRules } from '../webhooks/callback-request.service.js';
import { Settings } from '../config/settings.js';
import type { Confirmation } from '../confirmations/confirmation.js';
import { LinkIssuer } from '../links/link-issuer.js';
import { approvalOf } from '../approvals/approval-request.js';

/** The task services' side: ask a user, tell a user, tell everyone. */
@ApiTags('task services')
@ApiSharedState()
@Controller()
export class NotifyController {
  constructor(
    private readonly confirmations: ConfirmationService,
    private readonly delivery: DeliveryService,
    private readonly acks: AckService,
    private readonly callbackRules: CallbackRequestRules,
    private readonly links: LinkIssuer,
    settings: Settings,
  ) {
    this.maxWaitMs = settings.holding.maxWaitMs;
  }

  private readonly maxWaitMs: number;

  /** notify_user: pushes a step result to the user and (by default) waits for the decision. */
  @Post('notify')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ schema: DecisionSchema, description: 'The decision (the call waits for it, at most NOTIFY_MAX_WAIT_SECONDS, unless wait=false)' })
  @ApiAcceptedResponse({
    schema: PendingConfirmationSchema,
    description: 'Delivered, not decided yet: wait=false, or still pending after NOTIFY_MAX_WAIT_SECONDS. The Location header names GET /confirmations/{callback_id}, which long-polls for the decision.',
    headers: { Location: { description: '/confirmations/{callback_id}', schema: { type: 'string' } } },
  })
  @ApiErrors(ErrorCode.InvalidMessage, ErrorCode.TooManyPending, ErrorCode.CallbackConflict, ErrorCode.ValidationFailed, ErrorCode.Unavailable)
  async notify(
    @ValidBody() body: NotifyRequestDto,
    @ValidQuery() query: NotifyQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const waits = query.wait !== 'false';
    const callbackUrl = body.callback_url ?? undefined;
    const metadata = body.metadata ?? undefined;
    if (callbackUrl !== undefined || metadata !== undefined) this.callbackRules.check(callbackUrl, metadata);
    const links = body.links ? this.links.requested(body.links, [body.user_id, ...(body.approvers?.users ?? [])], body.callback_id) : undefined;
    const { confirmation } = await this.confirmations.create({
      userId: body.user_id,
      taskId: body.task_id,
      step: body.step,
      stepResult: body.step_result,
      timeoutSeconds: body.timeout_seconds,
      callbackId: body.callback_id,
      acceptedAt: acceptedAt(reply),
      requestId: reply.request.id,
      apiKeyId: reply.request.apiKeyId ?? undefined,
      callbackUrl,
      metadata,
      reminders: body.reminders && { everySeconds: body.reminders.every_seconds, max: body.reminders.max },
      escalation: body.escalation?.map((step) => ({ afterSeconds: step.after_seconds, users: step.users ?? [], groups: step.groups ?? [] })),
      links,
      // Options, a form, approvers: checked here (400 validation_failed); absent for a plain prompt.
      approval: approvalOf(body),
      ...(body.requested_by != null && { requestedBy: body.requested_by }),
    }, waits);
    if (!waits && confirmation.state === 'pending') return this.withLinks(accepted(reply, confirmation), confirmation, reply);
    // Held at most NOTIFY_MAX_WAIT_SECONDS: a decision may take days, one HTTP call does not.
    const settled = await this.confirmations.waitForSettlement(confirmation.callbackId, this.maxWaitMs, stopWhenCallerLeaves(reply), confirmation);
    // The server is stopping: 503, retry with the same callback_id (here or elsewhere).
    if (!settled || (settled.state === 'pending' && this.confirmations.isShuttingDown)) return answerStillPending(reply, confirmation.callbackId);
    if (settled.state === 'pending') return this.withLinks(accepted(reply, settled), settled, reply);
    return this.withLinks(toDecision(settled), settled, reply);
  }

  @Post('broadcast')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ schema: DeliveredSchema, description: 'The object went to every connection' })
  async broadcast(@JsonObjectBody() message: Record<string, unknown>, @Res({ passthrough: true }) reply: FastifyReply) {
    return { delivered: await this.delivery.deliver({ everyone: true, acceptedAt: acceptedAt(reply) }, message) };
  }

  /** send_to_user: the caller's object plus `target_user_id`, to that user's connections only. */
  @Post('users/:user_id/messages')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ schema: MessageDeliveredSchema, description: "The object, plus target_user_id, went to the user's connections (with requires_ack: and its ack state)" })
  async sendToUser(
    @IdParam('user_id') userId: string,
    @JsonObjectBody() message: Record<string, unknown>,
    @ValidQuery() query: AckQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const ack = ackRequestOf(message, this.acks.defaultTimeoutSeconds);
    const accepted = acceptedAt(reply);
    if (!ack) return { delivered: await this.delivery.deliver({ userIds: [userId], acceptedAt: accepted }, { ...message, target_user_id: userId }) };
    const sent = await this.acks.send({ userId }, { ...ack.frame, target_user_id: userId }, ack.timeoutSeconds, accepted);
    const settled = await this.acks.waitForAck(sent.message, (query.wait_ack_seconds ?? 0) * 1000, stopWhenCallerLeaves(reply));
    return { delivered: sent.delivered, ...toAckView(settled) };
  }

  /** The confirmation's action links beside the body, when the prompt asked for them. */
  private withLinks<T extends object>(body: T, confirmation: Confirmation, reply: FastifyReply): T {
    return confirmation.links ? { ...body, links: this.links.linksOf(confirmation, reply.request) } : body;
  }
}

/** 202: delivered and still pending; the decision is at Location (GET long-polls). */
function accepted(reply: FastifyReply, confirmation: Confirmation) {
  void reply.status(HttpStatus.ACCEPTED).header('location', `/confirmations/${encodeURIComponent(confirmation.callbackId)}`);
  return { callback_id: confirmation.callbackId, state: 'pending', status: 'pending', expires_at: epochSeconds(confirmation.expiresAt) };
}
