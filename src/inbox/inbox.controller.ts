import { Controller, Get, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { PublicRoute } from '../auth/api-key.hook.js';
import { ApiErrors } from '../docs/api-errors.decorator.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { type Asset } from './inbox-assets.js';
import { InboxService } from './inbox.service.js';
import { pageCsp, pageSecurityHeaders } from '../http/page-security.js';

/**
 * Nothing but this origin's own files and socket; no inline script or style, no framing,
 * no plugins, and DOM sinks locked by Trusted Types (the page builds its DOM with
 * textContent only).
 */
export const INBOX_CSP = pageCsp("require-trusted-types-for 'script'");

const SECURITY_HEADERS = pageSecurityHeaders(INBOX_CSP);

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
