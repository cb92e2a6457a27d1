import { ApiOkResponse, ApiTags } from '../docs/api-decorators.js';
import { ApiErrors, ApiSharedState } from '../docs/api-errors.decorator.js';
import { ConfirmationViewSchema } from '../docs/response-schemas.js';
import { Controller, Get, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { stopWhenCallerLeaves } from '../http/long-poll.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { toView } from './confirmation.js';
import { ConfirmationService } from './confirmation.service.js';
import { ConfirmationQueryDto } from './dto/confirmation-query.dto.js';
import { IdParam } from '../http/id-param.pipe.js';

@ApiTags('task services')
@ApiSharedState()
@Controller('confirmations')
export class ConfirmationsController {
  constructor(private readonly confirmations: ConfirmationService) {}

  @Get(':callback_id')
  @ApiOkResponse({ schema: ConfirmationViewSchema, description: 'The confirmation, after waiting up to wait_seconds for a pending one to settle' })
  @ApiErrors(ErrorCode.CallbackNotFound)
  async get(
    @IdParam('callback_id') callbackId: string,
    @Query() query: ConfirmationQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const waitMs = (query.wait_seconds ?? 0) * 1000;
    const confirmation = await this.confirmations.waitForSettlement(callbackId, waitMs, stopWhenCallerLeaves(reply));
    if (!confirmation) throw new GatewayError(ErrorCode.CallbackNotFound, `No confirmation with callback_id ${callbackId}`);
    return toView(confirmation);
  }
}
