import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { MAX_ID_LENGTH } from '../../protocol/client-frames.js';

export const DEFAULT_LISTED_CONNECTIONS = 1000;
const MAX_LISTED_CONNECTIONS = 10_000;

export class ConnectionsQueryDto {
  @IsOptional()
  @IsString()
  @Length(1, MAX_ID_LENGTH)
  user_id?: string;

  /** At most this many connections (per instance, and in all): an unfiltered list of a large deployment is megabytes. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_LISTED_CONNECTIONS)
  limit?: number;
}
