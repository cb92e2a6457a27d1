import { Body, Controller, HttpCode, HttpStatus, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiTags } from '../docs/api-decorators.js';
import type { FastifyReply } from 'fastify';
import { toDecision } from '../confirmations/confirmation.js';
import { ConfirmationService } from '../confirmations/confirmation.service.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { ApiErrors, ApiSharedState } from '../docs/api-errors.decorator.js';
import { DecisionSchema, DeliveredSchema, MessageDeliveredSchema, PendingConfirmationSchema } from '../docs/response-schemas.js';
import { ErrorCode } from '../protocol/error-code.enum.js';
import { JsonObjectPipe } from '../http/json-object.pipe.js';
import { epochSeconds } from '../protocol/server-frames.js';
import { answerStillPending, stopWhenCallerLeaves } from '../http/long-poll.js';
import { acceptedAt } from '../http/accepted-at.js';
import { NotifyQueryDto } from './dto/notify-query.dto.js';
import { NotifyRequestDto } from './dto/notify-request.dto.js';
import { AckService, toAckView } from '../acks/ack.service.js';
import { ackRequestOf } from '../acks/ack-request.js';
import { AckQueryDto } from '../acks/dto/ack-query.dto.js';
import { IdParam } from '../http/id-param.pipe.js';

/** The task services' side: ask a user, tell a user, tell everyone. */
@ApiTags('task services')
@ApiSharedState()
@Controller()
export class NotifyController {
  constructor(
    private readonly confirmations: ConfirmationService,
    private readonly delivery: DeliveryService,
    private readonly acks: AckService,
  ) {}

  /** notify_user: pushes a step result to the user and (by default) waits for the decision. */
  @Post('notify')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ schema: DecisionSchema, description: 'The decision (the call waits for it unless wait=false)' })
  @ApiAcceptedResponse({ schema: PendingConfirmationSchema, description: 'wait=false: delivered, not decided yet' })
  @ApiErrors(ErrorCode.TooManyPending, ErrorCode.CallbackConflict, ErrorCode.Unavailable)
  async notify(
    @Body() body: NotifyRequestDto,
    @Query() query: NotifyQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const waits = query.wait !== 'false';
    const { confirmation } = await this.confirmations.create({
      userId: body.user_id,
      taskId: body.task_id,
      step: body.step,
      stepResult: body.step_result,
      timeoutSeconds: body.timeout_seconds,
      callbackId: body.callback_id,
      acceptedAt: acceptedAt(reply),
      requestId: reply.request.id,
    }, waits);
    if (!waits && confirmation.state === 'pending') {
      void reply.status(HttpStatus.ACCEPTED);
      return { callback_id: confirmation.callbackId, state: 'pending', status: 'pending', expires_at: epochSeconds(confirmation.expiresAt) };
    }
    // No limit of its own: the confirmation's expiry (or shutdown) ends the wait.
    const settled = await this.confirmations.waitForSettlement(confirmation.callbackId, Infinity, stopWhenCallerLeaves(reply), confirmation);
    if (!settled || settled.state === 'pending') return answerStillPending(reply, confirmation.callbackId);
    return toDecision(settled);
  }

  @Post('broadcast')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ schema: DeliveredSchema, description: 'The object went to every connection' })
  async broadcast(@Body(JsonObjectPipe) message: Record<string, unknown>, @Res({ passthrough: true }) reply: FastifyReply) {
    return { delivered: await this.delivery.deliver({ everyone: true, acceptedAt: acceptedAt(reply) }, message) };
  }

  /** send_to_user: the caller's object plus `target_user_id`, to that user's connections only. */
  @Post('users/:user_id/messages')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ schema: MessageDeliveredSchema, description: "The object, plus target_user_id, went to the user's connections (with requires_ack: and its ack state)" })
  async sendToUser(
    @IdParam('user_id') userId: string,
    @Body(JsonObjectPipe) message: Record<string, unknown>,
    @Query() query: AckQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const ack = ackRequestOf(message, this.acks.defaultTimeoutSeconds);
    const accepted = acceptedAt(reply);
    if (!ack) return { delivered: await this.delivery.deliver({ userIds: [userId], acceptedAt: accepted }, { ...message, target_user_id: userId }) };
    const sent = await this.acks.send({ userId }, { ...ack.frame, target_user_id: userId }, ack.timeoutSeconds, accepted);
    const settled = await this.acks.waitForAck(sent.message, (query.wait_ack_seconds ?? 0) * 1000, stopWhenCallerLeaves(reply));
    return { delivered: sent.delivered, ...toAckView(settled) };
  }
}
