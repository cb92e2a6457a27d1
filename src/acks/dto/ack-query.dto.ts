import { Type } from 'class-transformer';
import { IsNumber, IsOptional, Max, Min } from 'class-validator';

export const MAX_ACK_WAIT_SECONDS = 300;

export class AckQueryDto {
  /** With `requires_ack`: wait up to this many seconds for the acknowledgement before answering. */
  @IsOptional()
  @Type(() => Number)
  @IsNumber()
  @Min(0)
  @Max(MAX_ACK_WAIT_SECONDS)
  wait_ack_seconds?: number;
}
