import { Global, Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { ConfirmationsModule } from '../confirmations/confirmations.module.js';
import { ActionLinksController } from './action-links.controller.js';
import { ActionLinksService } from './action-links.service.js';
import { LinkIssuer } from './link-issuer.js';

/**
 * One-click action links: the /a/<token> pages, and the LinkIssuer that POST /notify and
 * GET /confirmations/:id use to hand links out. Global so those can use the issuer without
 * importing this module (which imports ConfirmationsModule for the pages, and AuditModule to
 * record links opened and used: links depend on the audit trail, never the reverse).
 */
@Global()
@Module({
  imports: [ConfirmationsModule, AuditModule],
  controllers: [ActionLinksController],
  providers: [LinkIssuer, ActionLinksService],
  exports: [LinkIssuer],
})
export class LinksModule {}
