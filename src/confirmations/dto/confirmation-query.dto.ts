import { Type } from 'class-transformer';
import { IsNumber, IsOptional, Max, Min } from 'class-validator';

import { MAX_LONG_POLL_SECONDS } from '../../config/environment.js';

export { MAX_LONG_POLL_SECONDS };

export class ConfirmationQueryDto {
  /** Long-poll: wait up to this many seconds (at most NOTIFY_MAX_WAIT_SECONDS) for a pending confirmation to settle. */
  @IsOptional()
  @Type(() => Number)
  @IsNumber()
  @Min(0)
  @Max(MAX_LONG_POLL_SECONDS)
  wait_seconds?: number;
}
