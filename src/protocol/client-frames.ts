import { IsBoolean, IsInt, IsObject, IsOptional, IsString, Length, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsId, MAX_ID_LENGTH } from './id.js';

export { MAX_ID_LENGTH };

/** The `action` values a client may send. */
export enum ClientAction {
  Confirm = 'confirm',
  Cancel = 'cancel',
  Ping = 'ping',
  Subscribe = 'subscribe',
  Unsubscribe = 'unsubscribe',
  Resume = 'resume',
  Ack = 'ack',
}

export const MAX_FEEDBACK_LENGTH = 4096;
export const MAX_EPOCH_LENGTH = 64;
/** An option id of a prompt with options (POST /notify `options[].id`). */
export const MAX_OPTION_ID_LENGTH = 64;
export const OPTION_ID_PATTERN_SOURCE = '^[A-Za-z0-9._:-]+$';

export class ConfirmFrame {
  @IsId()
  callback_id: string;

  /** Missing means "do not proceed", as in the original. */
  @IsOptional()
  @IsBoolean()
  proceed?: boolean;

  @IsOptional()
  @IsString()
  @MaxLength(MAX_FEEDBACK_LENGTH)
  feedback?: string;

  /** One of the prompt's option ids; its `proceed` is the answer's (a contradicting `proceed` is refused). */
  @IsOptional()
  @IsString()
  @MaxLength(MAX_OPTION_ID_LENGTH)
  @Matches(/^[A-Za-z0-9._:-]+$/)
  option?: string;

  /** The filled form, when the prompt has one and the answer proceeds (checked against the form). */
  @IsOptional()
  @IsObject()
  data?: Record<string, unknown>;
}

export class CancelFrame {
  @IsId()
  task_id: string;

  /** Defaults to the connection's user; any other user is refused. */
  @IsOptional()
  @IsId()
  user_id?: string;
}

export class SubscribeFrame {
  @IsOptional()
  @IsId()
  user_id?: string;

  @IsOptional()
  @IsId()
  task_id?: string;

  /** With `task_offset`: the task stream position to resume from (the missed task frames come first). */
  @IsOptional()
  @IsString()
  @Length(1, MAX_EPOCH_LENGTH)
  task_epoch?: string;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  task_offset?: number;
}

/**
 * Catch up after a reconnect: the frames after these positions, then a `resumed` frame per
 * stream. `epoch`/`offset` are the user's stream, `broadcast_*` the broadcast stream's.
 * Best sent on the upgrade URL instead (`?epoch=&offset=`), where nothing can come first.
 */
export class ResumeFrame {
  @IsOptional()
  @IsString()
  @Length(1, MAX_EPOCH_LENGTH)
  epoch?: string;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  offset?: number;

  @IsOptional()
  @IsString()
  @Length(1, MAX_EPOCH_LENGTH)
  broadcast_epoch?: string;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  broadcast_offset?: number;
}

/** Acknowledges a message that came with `requires_ack: true`. */
export class AckFrame {
  @IsId()
  message_id: string;
}

export class UnsubscribeFrame {
  @IsId()
  task_id: string;
}
