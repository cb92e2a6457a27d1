import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '../docs/api-decorators.js';
import { ApiErrors, ApiSharedState } from '../docs/api-errors.decorator.js';
import { GrantSchema, MessageDeliveredSchema, HeartbeatViewSchema, TaskViewSchema } from '../docs/response-schemas.js';
import { Controller, Delete, Get, HttpCode, HttpStatus, Post, Res } from '@nestjs/common';
import { IdParam, JsonObjectBody, ValidBody, ValidQuery } from '../http/route-input.js';
import type { FastifyReply } from 'fastify';
import { AckService, toAckView } from '../acks/ack.service.js';
import { ackRequestOf } from '../acks/ack-request.js';
import { AckQueryDto } from '../acks/dto/ack-query.dto.js';
import { stopWhenCallerLeaves } from '../http/long-poll.js';
import { toView } from '../confirmations/confirmation.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { GrantRequestDto } from './dto/grant-request.dto.js';
import { HeartbeatRequestDto } from './dto/heartbeat-request.dto.js';
import { toHeartbeatView } from './heartbeat.service.js';
import { TaskAccessService } from './task-access.service.js';
import { TaskService } from './task.service.js';
import { epochSeconds } from '../protocol/server-frames.js';
import { acceptedAt } from '../http/accepted-at.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';

@ApiTags('tasks')
@ApiSharedState()
@Controller()
export class TasksController {
  constructor(
    private readonly tasks: TaskService,
    private readonly delivery: DeliveryService,
    private readonly access: TaskAccessService,
    private readonly acks: AckService,
  ) {}

  @Get('tasks/:task_id')
  @ApiOkResponse({ schema: TaskViewSchema })
  @ApiErrors(ErrorCode.NotFound)
  async describe(@IdParam('task_id') taskId: string) {
    const { cancellation, pending, heartbeat } = await this.tasks.describe(taskId);
    return {
      task_id: taskId,
      cancelled: cancellation !== undefined,
      cancelled_at: cancellation ? epochSeconds(cancellation.cancelledAt) : null,
      cancelled_by: cancellation?.userId ?? null,
      pending_confirmations: pending.map(toView),
      heartbeat: heartbeat ? toHeartbeatView(heartbeat) : null,
    };
  }

  /** Progress and other task messages, to the task's subscribers. */
  @Post('tasks/:task_id/messages')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ schema: MessageDeliveredSchema, description: "The object, plus task_id, went to the task's subscribers (with requires_ack: and its ack state)" })
  async sendToTask(
    @IdParam('task_id') taskId: string,
    @JsonObjectBody() message: Record<string, unknown>,
    @ValidQuery() query: AckQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const ack = ackRequestOf(message, this.acks.defaultTimeoutSeconds);
    const accepted = acceptedAt(reply);
    if (!ack) return { delivered: await this.delivery.deliver({ taskIds: [taskId], acceptedAt: accepted }, { ...message, task_id: taskId }) };
    const sent = await this.acks.send({ taskId }, { ...ack.frame, task_id: taskId }, ack.timeoutSeconds, accepted);
    const settled = await this.acks.waitForAck(sent.message, (query.wait_ack_seconds ?? 0) * 1000, stopWhenCallerLeaves(reply));
    return { delivered: sent.delivered, ...toAckView(settled) };
  }

  /** Lets a user subscribe to the task's messages even without a confirmation of their own. */
  @Post('tasks/:task_id/subscribers')
  @HttpCode(HttpStatus.CREATED)
  @ApiCreatedResponse({ schema: GrantSchema })
  @ApiErrors(ErrorCode.CapacityExceeded)
  async grant(@IdParam('task_id') taskId: string, @ValidBody() body: GrantRequestDto) {
    const expiresAt = await this.access.grant(taskId, body.user_id, body.ttl_seconds);
    return { task_id: taskId, user_id: body.user_id, expires_at: epochSeconds(expiresAt) };
  }

  @Delete('tasks/:task_id/subscribers/:user_id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'The grant is gone' })
  @ApiErrors(ErrorCode.NotFound)
  async revoke(@IdParam('task_id') taskId: string, @IdParam('user_id') userId: string): Promise<void> {
    if (!(await this.access.revoke(taskId, userId))) {
      throw new GatewayError(ErrorCode.NotFound, `User ${userId} has no grant for task ${taskId}`);
    }
  }

  @Post('heartbeats')
  @HttpCode(HttpStatus.CREATED)
  @ApiCreatedResponse({ schema: HeartbeatViewSchema })
  @ApiErrors(ErrorCode.TaskCancelled, ErrorCode.CapacityExceeded)
  async startHeartbeat(@ValidBody() body: HeartbeatRequestDto) {
    const heartbeat = await this.tasks.startHeartbeat({
      userId: body.user_id,
      taskId: body.task_id,
      intervalSeconds: body.interval_seconds,
      durationSeconds: body.duration_seconds,
      message: body.message,
    });
    return toHeartbeatView(heartbeat);
  }

  @Delete('heartbeats/:id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'The heartbeat stopped' })
  @ApiErrors(ErrorCode.NotFound)
  stopHeartbeat(@IdParam('id') id: string): Promise<void> {
    return this.tasks.stopHeartbeat(id);
  }
}
