import { Type } from 'class-transformer';
import { IsNumber, IsOptional, Max, Min } from 'class-validator';

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
