import { IsNumber, IsOptional, IsString, Length, Max, MaxLength, Min } from 'class-validator';
import { MAX_ID_LENGTH } from '../../protocol/client-frames.js';
import { OptionalField } from '../../protocol/validation.js';

export class HeartbeatRequestDto {
  @IsString()
  @Length(1, MAX_ID_LENGTH)
  user_id: string;

  @IsString()
  @Length(1, MAX_ID_LENGTH)
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
