import { IsNumber, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { IsId } from '../../protocol/id.js';
import { OptionalField } from '../../protocol/validation.js';

export class HeartbeatRequestDto {
  @IsId()
  user_id: string;

  @IsId()
  task_id: string;

  @IsNumber()
  @Min(0.05)
  @Max(3600)
  interval_seconds: number;

  /** How long it runs at most; HEARTBEAT_DEFAULT_DURATION_SECONDS when absent. */
  @OptionalField()
  @IsNumber()
  @Min(0.05)
  @Max(7 * 86400)
  duration_seconds?: number;

  @IsOptional()
  @IsString()
  @MaxLength(1024)
  message?: string;
}
