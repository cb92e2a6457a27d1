import { Controller, Get } from '@nestjs/common';
import { IdParam } from '../http/route-input.js';
import { ApiOkResponse, ApiTags } from '../docs/api-decorators.js';
import { ConfirmationService } from '../confirmations/confirmation.service.js';
import { ApiErrors, ApiSharedState } from '../docs/api-errors.decorator.js';
import { WebhookDeliveriesSchema } from '../docs/response-schemas.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { epochSeconds } from '../protocol/server-frames.js';
import { WebhookStore } from './webhook.store.js';

@ApiTags('task services')
@ApiSharedState()
@Controller('confirmations')
export class WebhooksController {
  constructor(
    private readonly store: WebhookStore,
    private readonly confirmations: ConfirmationService,
  ) {}

  /** The confirmation's webhook attempts, oldest first. */
  @Get(':callback_id/deliveries')
  @ApiOkResponse({ schema: WebhookDeliveriesSchema, description: "The confirmation's webhook attempts, oldest first" })
  @ApiErrors(ErrorCode.CallbackNotFound)
  async deliveries(@IdParam('callback_id') callbackId: string) {
    const attempts = await this.store.attempts(callbackId);
    if (attempts.length === 0 && !(await this.confirmations.get(callbackId))) {
      throw new GatewayError(ErrorCode.CallbackNotFound, `No confirmation with callback_id ${callbackId}`);
    }
    return {
      callback_id: callbackId,
      attempts: attempts.map((a) => ({
        webhook_id: a.webhookId,
        event: a.event,
        attempt: a.attempt,
        at: epochSeconds(a.at),
        status_code: a.statusCode,
        error: a.error,
        latency_ms: a.latencyMs,
        outcome: a.outcome,
        next_attempt_at: a.nextAttemptAt === null ? null : epochSeconds(a.nextAttemptAt),
      })),
    };
  }
}
