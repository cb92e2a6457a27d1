import { IsIn, IsOptional } from 'class-validator';

export class NotifyQueryDto {
  /** `false` answers 202 at once instead of waiting for the decision. */
  @IsOptional()
  @IsIn(['true', 'false'])
  wait?: 'true' | 'false';
}
