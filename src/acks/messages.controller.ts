import { Controller, Get } from '@nestjs/common';
import { IdParam } from '../http/route-input.js';
import { ApiOkResponse, ApiTags } from '../docs/api-decorators.js';
import { ApiErrors, ApiSharedState } from '../docs/api-errors.decorator.js';
import { AckViewSchema } from '../docs/response-schemas.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { AckService, toAckView } from './ack.service.js';

@ApiTags('task services')
@ApiSharedState()
@Controller('messages')
export class MessagesController {
  constructor(private readonly acks: AckService) {}

  /** Whether a message sent with `requires_ack` was acknowledged, by whom and when. */
  @Get(':message_id')
  @ApiOkResponse({ schema: AckViewSchema, description: 'The message: state (pending, acknowledged, expired), who acknowledged it and when' })
  @ApiErrors(ErrorCode.MessageNotFound)
  async get(@IdParam('message_id') messageId: string) {
    const message = await this.acks.get(messageId);
    if (!message) throw new GatewayError(ErrorCode.MessageNotFound, `No message ${messageId} (unknown, or its retention is over)`);
    return toAckView(message);
  }
}
