import { Global, Module } from '@nestjs/common';
import { ConfirmationsModule } from '../confirmations/confirmations.module.js';
import { ActionLinksController } from './action-links.controller.js';
import { ActionLinksService } from './action-links.service.js';
import { LinkIssuer } from './link-issuer.js';

/**
 * One-click action links: the /a/<token> pages, and the LinkIssuer that POST /notify and
 * GET /confirmations/:id use to hand links out. Global so those can use the issuer without
 * importing this module (which imports ConfirmationsModule for the pages).
 */
@Global()
@Module({
  imports: [ConfirmationsModule],
  controllers: [ActionLinksController],
  providers: [LinkIssuer, ActionLinksService],
  exports: [LinkIssuer],
})
export class LinksModule {}
