import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { APPROVERS_SCHEMA, MAX_APPROVERS_PER_LIST, MAX_QUORUM, OPTIONS_SCHEMA } from '../../approvals/approval-limits.js';
import { ID_CHARACTERS_PATTERN, IsId, MAX_ID_LENGTH } from '../../protocol/id.js';
import { MatchesJsonSchema } from '../../protocol/json-schema-rule.js';
import type { ApprovalOption, ApprovalPolicy, Approvers, FormSchema } from '../../protocol/server-frames.js';
import { OptionalField } from '../../protocol/validation.js';
import { MAX_CALLBACK_TIMEOUT_SECONDS } from '../../config/environment.js';

/** Most reminders one confirmation may ask for. */
export const MAX_REMINDERS = 100;

/** Most escalation steps one confirmation may ask for. */
export const MAX_ESCALATION_STEPS = 10;

/** One escalation step: who is added as approver, how long after the prompt. */
export interface EscalationStep {
  after_seconds: number;
  users?: string[];
  groups?: string[];
}

const ESCALATION_IDS = { type: 'array', maxItems: MAX_APPROVERS_PER_LIST, items: { type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH, pattern: ID_CHARACTERS_PATTERN } };

/** POST /notify `escalation`: up to 10 of { after_seconds > 0, users?, groups? }. */
export const ESCALATION_SCHEMA = {
  type: 'array',
  maxItems: MAX_ESCALATION_STEPS,
  items: {
    type: 'object',
    required: ['after_seconds'],
    additionalProperties: false,
    properties: {
      after_seconds: { type: 'number', exclusiveMinimum: 0, maximum: MAX_CALLBACK_TIMEOUT_SECONDS },
      users: ESCALATION_IDS,
      groups: ESCALATION_IDS,
    },
  },
};

export const CALLBACK_ID_PATTERN = /^[A-Za-z0-9._:-]+$/;

/** The original's TaskStepResult. */
export class StepResultDto {
  @IsString()
  @MaxLength(MAX_ID_LENGTH)
  step: string;

  @IsOptional()
  result?: unknown;

  @IsOptional()
  @IsBoolean()
  completed?: boolean;

  @IsString()
  @MaxLength(16384)
  message: string;

  @IsString()
  @MaxLength(MAX_ID_LENGTH)
  status: string;

  @IsOptional()
  @IsString()
  @MaxLength(MAX_ID_LENGTH)
  error_code?: string | null;

  @IsOptional()
  @IsString()
  @MaxLength(16384)
  error_message?: string | null;
}

/** Re-send a pending prompt every `every_seconds`, at most `max` times (PROTOCOL "Reminders"). */
export class RemindersDto {
  /** Seconds between two reminders, the first this long after the prompt. */
  @IsNumber()
  @Min(1)
  @Max(MAX_CALLBACK_TIMEOUT_SECONDS)
  every_seconds: number;

  /** Reminders at most (fewer when the confirmation expires or settles first). */
  @IsInt()
  @Min(1)
  @Max(MAX_REMINDERS)
  max: number;
}

export class NotifyRequestDto {
  @IsId()
  user_id: string;

  @IsId()
  task_id: string;

  /** The step number. */
  @IsInt()
  @Min(0)
  step: number;

  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => StepResultDto)
  step_result: StepResultDto;

  /** Seconds to wait for the user; capped at WEBSOCKET_MAX_CALLBACK_TIMEOUT. */
  @OptionalField()
  @IsNumber()
  @Min(0.05)
  timeout_seconds?: number;

  @IsOptional()
  @IsId()
  @Matches(CALLBACK_ID_PATTERN, { message: 'callback_id may contain only letters, digits and . _ : -' })
  callback_id?: string;

  /** Reminders: the prompt again (with `reminder: n`) while nobody has answered. */
  @OptionalField()
  @IsObject()
  @ValidateNested()
  @Type(() => RemindersDto)
  reminders?: RemindersDto;

  /** Approvers added after `after_seconds` while nobody has decided (at most 10 steps). */
  @IsOptional()
  @MatchesJsonSchema(ESCALATION_SCHEMA)
  escalation?: EscalationStep[];

  /** Choices to offer instead of yes/no; each option's `proceed` is the decision's. */
  @IsOptional()
  @MatchesJsonSchema(OPTIONS_SCHEMA)
  options?: ApprovalOption[];

  /**
   * A flat form (MCP elicitation's requestedSchema) the answer fills in; its defaults are the
   * proposed values. Outside the supported subset: 400 validation_failed naming the keyword.
   */
  @IsOptional()
  @IsObject()
  form?: FormSchema;

  /** Who may answer (exactly this set); absent: only user_id. */
  @IsOptional()
  @MatchesJsonSchema(APPROVERS_SCHEMA)
  approvers?: Approvers;

  /** any (default): the first answer settles; all: every listed user approves; quorum: `quorum` approvals. */
  @IsOptional()
  @IsIn(['any', 'all', 'quorum'])
  policy?: ApprovalPolicy;

  /** With policy quorum (and only then): approvals needed. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_QUORUM)
  quorum?: number;

  /** The user named by requested_by may not answer. */
  @IsOptional()
  @IsBoolean()
  forbid_self?: boolean;

  /** Who asked (for forbid_self). */
  @IsOptional()
  @IsId()
  requested_by?: string;
}
