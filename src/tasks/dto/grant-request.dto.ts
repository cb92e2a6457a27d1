import { IsNumber, Max, Min } from 'class-validator';
import { IsId } from '../../protocol/id.js';
import { OptionalField } from '../../protocol/validation.js';

export class GrantRequestDto {
  @IsId()
  user_id: string;

  /** How long the grant lasts; a day when absent. */
  @OptionalField()
  @IsNumber()
  @Min(1)
  @Max(30 * 86400)
  ttl_seconds?: number;
}
