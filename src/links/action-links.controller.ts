import { applyDecorators, Controller, Get, HttpCode, HttpStatus, Logger, Param, Post, Res } from '@nestjs/common';
import { ApiResponse, ApiTags } from '../docs/api-decorators.js';
import type { FastifyReply } from 'fastify';
import { readFileSync } from 'node:fs';
import { PublicRoute } from '../auth/api-key.hook.js';
import { INBOX_CSP } from '../inbox/inbox.controller.js';
import { pageSecurityHeaders } from '../http/page-security.js';
import { linkPage, type LinkPage } from './action-link-page.js';
import { ActionLinksService } from './action-links.service.js';

/**
 * The pages' headers: the inbox's CSP (no script at all here, no inline style), and never
 * cached or kept: a link page is one person's, for one moment.
 */
const SECURITY_HEADERS = { ...pageSecurityHeaders(INBOX_CSP), 'cache-control': 'no-store' };

const HTML = { 'text/html': { schema: { type: 'string' } } };

const STYLESHEET = readFileSync(new URL('../../src/links/public/links.css', import.meta.url));

/**
 * One-click action links, `<PUBLIC_BASE_URL>/a/<token>`. No API key (the token is the
 * capability). GET shows what the link would do and decides nothing (mail scanners and link
 * previews follow links); POST, sent by the page's one button, decides.
 */
@ApiTags('action links')
@Controller('a')
export class ActionLinksController {
  private readonly logger = new Logger(ActionLinksController.name);

  constructor(private readonly links: ActionLinksService) {}

  @Get('assets/links.css')
  @PublicRoute()
  @ApiResponse({ status: 200, description: "The link pages' stylesheet", content: { 'text/css': { schema: { type: 'string' } } } })
  stylesheet(@Res() reply: FastifyReply): void {
    void reply.headers(pageSecurityHeaders(INBOX_CSP)).type('text/css; charset=utf-8').send(STYLESHEET);
  }

  @Get(':token')
  @PublicRoute()
  @LinkPageResponses('What the link would do, with one button that does it (a GET decides nothing)')
  async show(@Param('token') token: string, @Res() reply: FastifyReply): Promise<void> {
    send(reply, await this.pageOf(() => this.links.inspect(token).then(linkPage)));
  }

  @Post(':token')
  @PublicRoute()
  @HttpCode(HttpStatus.OK)
  @LinkPageResponses('Decided: the outcome page')
  async decide(@Param('token') token: string, @Res() reply: FastifyReply): Promise<void> {
    send(reply, await this.pageOf(() => this.links.decide(token).then(linkPage)));
  }

  /** A page even when the store is away: a person reads it, not a program. */
  private async pageOf(render: () => Promise<LinkPage>): Promise<LinkPage> {
    if (!this.links.enabled) return linkPage({ kind: 'disabled' });
    try {
      return await render();
    } catch (err) {
      this.logger.warn(`An action link could not be looked up: ${(err as Error).message}`);
      return linkPage({ kind: 'busy' });
    }
  }
}

/** Every page a link route answers with, by status (each an HTML page, never JSON). */
function LinkPageResponses(ok: string) {
  return applyDecorators(
    ApiResponse({ status: 200, description: ok, content: HTML }),
    ApiResponse({ status: 403, description: 'Not a valid link (tampered, not signed here, or not for this confirmation); which check failed is not said', content: HTML }),
    ApiResponse({ status: 404, description: 'The confirmation is no longer kept, or action links are disabled', content: HTML }),
    ApiResponse({ status: 409, description: 'Already decided (by this link, another, or another client): nothing changed', content: HTML }),
    ApiResponse({ status: 410, description: "The link's expiry passed, or the confirmation timed out: nothing changed", content: HTML }),
    ApiResponse({ status: 503, description: 'Busy, or the shared state is away: try again', content: HTML }),
  );
}

function send(reply: FastifyReply, page: LinkPage): void {
  void reply.status(page.status).headers(SECURITY_HEADERS).type('text/html; charset=utf-8').send(page.html);
}
