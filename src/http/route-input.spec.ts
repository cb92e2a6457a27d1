import { describe, expect, it } from '@jest/globals';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants.js';
import { IsString } from 'class-validator';
import { PublicRoute } from '../auth/api-key.hook.js';
import { ErrorCode } from '../protocol/error-code.enum.js';
import { IdParam, inputRulesOf, JsonObjectBody, ValidBody, ValidQuery } from './route-input.js';

class ExampleQueryDto {
  @IsString()
  mode: string;
}

class ExampleBodyDto {
  @IsString()
  name: string;
}

/** Decorated by hand, as TypeScript would: types first, then the parameters from the last, then the method. */
function decorated(parameterDecorators: ParameterDecorator[], types: unknown[], methodDecorators: MethodDecorator[] = []): Function {
  class Routes {
    route(): void {}
  }
  const descriptor = Object.getOwnPropertyDescriptor(Routes.prototype, 'route')!;
  Reflect.defineMetadata('design:paramtypes', types, Routes.prototype, 'route');
  [...parameterDecorators.entries()].reverse().forEach(([index, decorate]) => decorate(Routes.prototype, 'route', index));
  methodDecorators.forEach((decorate) => decorate(Routes.prototype, 'route', descriptor));
  return Routes.prototype.route;
}

describe('route input decorators', () => {
  it('record each checked input in parameter order, with its source and kind', () => {
    const handler = decorated([ValidQuery(), JsonObjectBody(), IdParam('user_id')], [ExampleQueryDto, Object, String]);
    expect(inputRulesOf(handler).map(({ index, source, name, kind }) => ({ index, source, name, kind }))).toEqual([
      { index: 0, source: 'query', name: undefined, kind: 'dto' },
      { index: 1, source: 'body', name: undefined, kind: 'json-object' },
      { index: 2, source: 'param', name: 'user_id', kind: 'id' },
    ]);
  });

  it('keep a public route public, and the route its inputs, whichever decorator runs first', () => {
    const handler = decorated([ValidBody()], [ExampleBodyDto], [PublicRoute()]);
    expect(Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler)).toEqual({ publicRoute: true, input: [expect.objectContaining({ kind: 'dto' })] });
  });

  it('refuse, when the app is built, a validated body or query without a DTO class', () => {
    expect(() => decorated([ValidBody()], [Object])).toThrow('@ValidBody() needs a DTO class');
    expect(() => decorated([ValidQuery()], [undefined])).toThrow('@ValidQuery() needs a DTO class');
  });

  it('check with the DTO: a valid body becomes its instance, an invalid one is invalid_message', async () => {
    const [rule] = inputRulesOf(decorated([ValidBody()], [ExampleBodyDto]));
    expect(rule.check({ name: 'x' })).toBeInstanceOf(ExampleBodyDto);
    await expect(Promise.resolve().then(() => rule.check({ name: 1 }))).rejects.toMatchObject({ code: ErrorCode.InvalidMessage, message: 'name must be a string' });
  });

  it('check ids and JSON objects with the messages the pipes had', () => {
    const [id] = inputRulesOf(decorated([IdParam('task_id')], [String]));
    const [object] = inputRulesOf(decorated([JsonObjectBody()], [Object]));
    expect(() => id.check('a\nb')).toThrow(expect.objectContaining({ code: ErrorCode.InvalidMessage, message: 'task_id must not contain control characters' }));
    expect(() => object.check([1])).toThrow(expect.objectContaining({ code: ErrorCode.InvalidMessage, message: 'The body must be a JSON object' }));
    expect(object.check({ a: 1 })).toEqual({ a: 1 });
  });
});
