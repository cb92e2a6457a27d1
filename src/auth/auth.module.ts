import { Logger, Module, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Environment } from '../config/environment.js';
import { ApiKeyService } from './api-key.service.js';
import { TokenVerifier } from './token-verifier.service.js';
import { UpgradeAuthenticator } from './upgrade-authenticator.js';

@Module({
  providers: [TokenVerifier, UpgradeAuthenticator, ApiKeyService],
  exports: [UpgradeAuthenticator, ApiKeyService],
})
export class AuthModule implements OnModuleInit {
  private readonly logger = new Logger('Security');

  constructor(
    private readonly config: ConfigService<Environment, true>,
    private readonly apiKeys: ApiKeyService,
  ) {}

  /** Development defaults are insecure on purpose; say so where nobody can miss it. */
  onModuleInit(): void {
    if (this.config.get('AUTH_MODE', { infer: true }) === 'none') {
      this.logger.warn('AUTH_MODE=none: ANY CLIENT CAN CLAIM ANY USER with ?user_id=. Use AUTH_MODE=jwt outside local development.');
    }
    if (this.apiKeys.isOpen) {
      this.logger.warn('API_KEYS is empty: THE REST API IS OPEN TO ANYONE who can reach this port. Set API_KEYS outside local development.');
    }
  }
}
