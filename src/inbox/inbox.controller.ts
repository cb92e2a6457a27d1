import { Controller, Get, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { PublicRoute } from '../auth/api-key.hook.js';
import { ApiErrors } from '../docs/api-errors.decorator.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { type Asset } from './inbox-assets.js';
import { InboxService } from './inbox.service.js';

/**
 * Nothing but this origin's own files and socket; no inline script or style, no framing,
 * no plugins, and DOM sinks locked by Trusted Types (the page builds its DOM with
 * textContent only).
 */
export const INBOX_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': INBOX_CSP,
  'x-content-type-options': 'nosniff',
  // A token may be in the page's URL (?token=): never send it on as a referrer.
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-cache',
};

/** The inbox page: a person's pending prompts, task progress and notices, on the JS SDK. */
@Controller('inbox')
export class InboxController {
  constructor(private readonly inbox: InboxService) {}

  @Get()
  @PublicRoute()
  @ApiErrors(ErrorCode.NotFound)
  page(@Res() reply: FastifyReply): void {
    send(reply, this.inbox.page());
  }

  @Get('assets/:file')
  @PublicRoute()
  @ApiErrors(ErrorCode.NotFound)
  asset(@Param('file') file: string, @Res() reply: FastifyReply): void {
    send(reply, this.inbox.asset(file));
  }

  @Get('sdk/:file')
  @PublicRoute()
  @ApiErrors(ErrorCode.NotFound)
  sdk(@Param('file') file: string, @Res() reply: FastifyReply): void {
    send(reply, this.inbox.sdkModule(file));
  }
}

function send(reply: FastifyReply, asset: Asset | undefined): void {
  if (!asset) throw new GatewayError(ErrorCode.NotFound, 'No such file');
  reply.headers(SECURITY_HEADERS).type(asset.contentType).send(asset.body);
}
