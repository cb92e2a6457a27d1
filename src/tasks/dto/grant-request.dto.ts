import { IsNumber, IsString, Length, Max, Min } from 'class-validator';
import { MAX_ID_LENGTH } from '../../protocol/client-frames.js';
import { OptionalField } from '../../protocol/validation.js';

export class GrantRequestDto {
  @IsString()
  @Length(1, MAX_ID_LENGTH)
  user_id: string;

  /** How long the grant lasts; a day when absent. */
  @OptionalField()
  @IsNumber()
  @Min(1)
  @Max(30 * 86400)
  ttl_seconds?: number;
}
