import { HealthCheck as TerminusHealthCheck } from '@nestjs/terminus';
import type * as Swagger from '@nestjs/swagger';

/**
 * The @nestjs/swagger decorators the controllers use, with the same signatures, recorded
 * where they stand and applied (the real ones, same arguments, same order) when the OpenAPI
 * document is first built (openapi.ts). Loading @nestjs/swagger costs some 0.35 s of CPU
 * (530 ES modules, es-toolkit/compat's 430 of them) on every start and in every test file
 * that builds the app; a service that never serves /docs/json now never loads it.
 * Controllers import these, never @nestjs/swagger itself (test/start-up-cost.spec.ts checks).
 */

type Name = 'ApiTags' | 'ApiOkResponse' | 'ApiCreatedResponse' | 'ApiAcceptedResponse' | 'ApiNoContentResponse' | 'ApiProduces' | 'ApiResponse';
type AnyDecorator = (target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => void;

/** What is left to apply, in the order the decorators ran. */
const recorded: Array<(swagger: typeof Swagger) => void> = [];

/** Applies the real decorator as TypeScript would have: to the class, or to the method with its descriptor. */
function applyTo(decorator: AnyDecorator, target: object, key?: string | symbol): void {
  if (key === undefined) decorator(target);
  else decorator(target, key, Object.getOwnPropertyDescriptor(target, key));
}

function recording<N extends Name>(name: N): (typeof Swagger)[N] {
  const decorator = (...args: unknown[]) => (target: object, key?: string | symbol) => {
    recorded.push((swagger) => applyTo((swagger[name] as (...a: unknown[]) => AnyDecorator)(...args), target, key));
  };
  return decorator as unknown as (typeof Swagger)[N];
}

export const ApiTags = recording('ApiTags');
export const ApiOkResponse = recording('ApiOkResponse');
export const ApiCreatedResponse = recording('ApiCreatedResponse');
export const ApiAcceptedResponse = recording('ApiAcceptedResponse');
export const ApiNoContentResponse = recording('ApiNoContentResponse');
export const ApiProduces = recording('ApiProduces');
export const ApiResponse = recording('ApiResponse');

/**
 * Terminus's @HealthCheck(): its no-cache header now, its responses for the document later.
 * Terminus require()s @nestjs/swagger the moment its decorator runs, to document the route.
 */
export const HealthCheck = (): MethodDecorator => (target, key) => {
  applyTo(TerminusHealthCheck({ noCache: true, swaggerDocumentation: false }) as AnyDecorator, target, key);
  recorded.push(() => applyTo(TerminusHealthCheck({ noCache: false, swaggerDocumentation: true }) as AnyDecorator, target, key));
};

/** Applies every decorator recorded so far, once. */
export function applyRecordedDecorators(swagger: typeof Swagger): void {
  for (const apply of recorded.splice(0)) apply(swagger);
}
