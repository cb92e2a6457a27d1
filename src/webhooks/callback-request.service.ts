import { Injectable } from '@nestjs/common';
import { Settings } from '../config/settings.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { callbackUrlProblem, CallbackUrlRules, HostAllowList } from './address-rules.js';

/** Largest `metadata`, as JSON. */
export const MAX_METADATA_BYTES = 16 * 1024;

/**
 * Checks the webhook fields of POST /notify (only called when one is given, so a plain
 * prompt pays nothing): a callback_url webhooks may go to, and metadata within its size.
 */
@Injectable()
export class CallbackRequestRules {
  private readonly enabled: boolean;
  private readonly rules: CallbackUrlRules;

  constructor(settings: Settings) {
    const webhooks = settings.webhooks;
    this.enabled = webhooks.enabled;
    this.rules = { allowedHosts: new HostAllowList(webhooks.allowedHosts), allowPrivate: webhooks.allowPrivate };
  }

  /** Throws a 400 `invalid_message` saying what is wrong. */
  check(callbackUrl: string | undefined, metadata: Record<string, unknown> | undefined): void {
    const problems: string[] = [];
    if (callbackUrl !== undefined) {
      if (!this.enabled) problems.push('callback_url cannot be used: webhooks are turned off on this deployment (WEBHOOKS_ENABLED)');
      else {
        const problem = callbackUrlProblem(callbackUrl, this.rules);
        if (problem) problems.push(problem);
      }
    }
    if (metadata !== undefined) {
      const bytes = Buffer.byteLength(JSON.stringify(metadata));
      if (bytes > MAX_METADATA_BYTES) problems.push(`metadata must be at most ${MAX_METADATA_BYTES} bytes as JSON (it is ${bytes})`);
    }
    if (problems.length > 0) throw new GatewayError(ErrorCode.InvalidMessage, problems.join('; '));
  }
}
