import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { IsId } from '../../protocol/id.js';

export const DEFAULT_LISTED_CONNECTIONS = 1000;
const MAX_LISTED_CONNECTIONS = 10_000;

export class ConnectionsQueryDto {
  @IsOptional()
  @IsId()
  user_id?: string;

  /** At most this many connections (per instance, and in all): an unfiltered list of a large deployment is megabytes. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_LISTED_CONNECTIONS)
  limit?: number;
}
