import { IsNumber, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { MAX_ID_LENGTH } from '../../protocol/client-frames.js';

export class GrantRequestDto {
  @IsString()
  @Length(1, MAX_ID_LENGTH)
  user_id: string;

  /** How long the grant lasts; a day when absent. */
  @IsOptional()
  @IsNumber()
  @Min(1)
  @Max(30 * 86400)
  ttl_seconds?: number;
}
