import { IsBoolean, IsOptional, IsString, Length, MaxLength } from 'class-validator';

/** The `action` values a client may send. */
export enum ClientAction {
  Confirm = 'confirm',
  Cancel = 'cancel',
  Ping = 'ping',
  Subscribe = 'subscribe',
  Unsubscribe = 'unsubscribe',
}

export const MAX_ID_LENGTH = 256;
export const MAX_FEEDBACK_LENGTH = 4096;

export class ConfirmFrame {
  @IsString()
  @Length(1, MAX_ID_LENGTH)
  callback_id: string;

  /** Missing means "do not proceed", as in the original. */
  @IsOptional()
  @IsBoolean()
  proceed?: boolean;

  @IsOptional()
  @IsString()
  @MaxLength(MAX_FEEDBACK_LENGTH)
  feedback?: string;
}

export class CancelFrame {
  @IsString()
  @Length(1, MAX_ID_LENGTH)
  task_id: string;

  /** Defaults to the connection's user; any other user is refused. */
  @IsOptional()
  @IsString()
  @Length(1, MAX_ID_LENGTH)
  user_id?: string;
}

export class SubscribeFrame {
  @IsOptional()
  @IsString()
  @Length(1, MAX_ID_LENGTH)
  user_id?: string;

  @IsOptional()
  @IsString()
  @Length(1, MAX_ID_LENGTH)
  task_id?: string;
}

export class UnsubscribeFrame {
  @IsString()
  @Length(1, MAX_ID_LENGTH)
  task_id: string;
}
