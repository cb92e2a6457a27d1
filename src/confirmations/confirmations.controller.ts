import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsNumber, IsOptional, Max, Min } from 'class-validator';
import type { FastifyReply } from 'fastify';
import { abortWhenClosed } from '../http/long-poll.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { toView } from './confirmation.js';
import { ConfirmationService } from './confirmation.service.js';

export const MAX_LONG_POLL_SECONDS = 300;

export class ConfirmationQueryDto {
  /** Long-poll: wait up to this many seconds for a pending confirmation to settle. */
  @IsOptional()
  @Type(() => Number)
  @IsNumber()
  @Min(0)
  @Max(MAX_LONG_POLL_SECONDS)
  wait_seconds?: number;
}

@Controller('confirmations')
export class ConfirmationsController {
  constructor(private readonly confirmations: ConfirmationService) {}

  @Get(':callback_id')
  async get(
    @Param('callback_id') callbackId: string,
    @Query() query: ConfirmationQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const waitMs = (query.wait_seconds ?? 0) * 1000;
    const confirmation = await this.confirmations.waitForSettlement(callbackId, waitMs, abortWhenClosed(reply));
    if (!confirmation) throw new GatewayError(ErrorCode.CallbackNotFound, `No confirmation with callback_id ${callbackId}`);
    return toView(confirmation);
  }
}
