import { ApiOkResponse, ApiTags } from '../docs/api-decorators.js';
import { ApiErrors, ApiSharedState } from '../docs/api-errors.decorator.js';
import { ConfirmationViewSchema } from '../docs/response-schemas.js';
import { Controller, Get, Res } from '@nestjs/common';
import { IdParam, ValidQuery } from '../http/route-input.js';
import type { FastifyReply } from 'fastify';
import { stopWhenCallerLeaves } from '../http/long-poll.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { toView } from './confirmation.js';
import { ConfirmationService } from './confirmation.service.js';
import { ConfirmationQueryDto } from './dto/confirmation-query.dto.js';
import { Settings } from '../config/settings.js';
import { LinkIssuer } from '../links/link-issuer.js';

@ApiTags('task services')
@ApiSharedState()
@Controller('confirmations')
export class ConfirmationsController {
  private readonly maxWaitMs: number;

  constructor(
    private readonly confirmations: ConfirmationService,
    private readonly links: LinkIssuer,
    settings: Settings,
  ) {
    this.maxWaitMs = settings.holding.maxWaitMs;
  }

  @Get(':callback_id')
  @ApiOkResponse({ schema: ConfirmationViewSchema, description: 'The confirmation, after waiting up to wait_seconds (at most NOTIFY_MAX_WAIT_SECONDS) for a pending one to settle' })
  @ApiErrors(ErrorCode.CallbackNotFound)
  async get(
    @IdParam('callback_id') callbackId: string,
    @ValidQuery() query: ConfirmationQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    // One HTTP call is held at most NOTIFY_MAX_WAIT_SECONDS; a pending answer says to ask again.
    const waitMs = Math.min((query.wait_seconds ?? 0) * 1000, this.maxWaitMs);
    const confirmation = await this.confirmations.waitForSettlement(callbackId, waitMs, stopWhenCallerLeaves(reply));
    if (!confirmation) throw new GatewayError(ErrorCode.CallbackNotFound, `No confirmation with callback_id ${callbackId}`);
    return confirmation.links ? { ...toView(confirmation), links: this.links.linksOf(confirmation, reply.request) } : toView(confirmation);
  }
}
