import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Environment } from '../config/environment.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { type Asset, loadAssets, PAGE_DIR, SDK_DIR } from './inbox-assets.js';

/** Holds the page's files in memory; refuses every request when the page is disabled. */
@Injectable()
export class InboxService implements OnModuleInit {
  private readonly logger = new Logger(InboxService.name);
  private readonly enabled: boolean;
  private readonly authMode: string;
  private pageFiles = new Map<string, Asset>();
  private sdkFiles = new Map<string, Asset>();
  private html: Asset | undefined;

  constructor(config: ConfigService<Environment, true>) {
    const setting = config.get('INBOX_PAGE_ENABLED', { infer: true }) as boolean | undefined;
    this.enabled = setting ?? config.get('NODE_ENV', { infer: true }) !== 'production';
    this.authMode = config.get('AUTH_MODE', { infer: true });
  }

  onModuleInit(): void {
    if (!this.enabled) return;
    this.pageFiles = loadAssets(PAGE_DIR);
    try {
      this.sdkFiles = loadAssets(SDK_DIR);
    } catch {
      this.logger.error(`The inbox page needs the SDK built (npm run build): ${SDK_DIR} is missing`);
    }
    const template = this.pageFiles.get('index.html');
    this.pageFiles.delete('index.html');
    // The page learns the auth mode from a meta tag: the CSP allows no inline script.
    if (template) this.html = { ...template, body: Buffer.from(template.body.toString('utf8').replace('{{AUTH_MODE}}', this.authMode)) };
    this.logger.log('Inbox page served at /inbox');
  }

  page(): Asset | undefined {
    this.checkEnabled();
    return this.html;
  }

  asset(name: string): Asset | undefined {
    this.checkEnabled();
    return this.pageFiles.get(name);
  }

  sdkModule(name: string): Asset | undefined {
    this.checkEnabled();
    return this.sdkFiles.get(name);
  }

  private checkEnabled(): void {
    if (!this.enabled) throw new GatewayError(ErrorCode.NotFound, 'The inbox page is disabled (INBOX_PAGE_ENABLED)');
  }
}
