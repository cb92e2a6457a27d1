import { afterEach, describe, expect, it } from '@jest/globals';
import Fastify from 'fastify';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants.js';
import { IsString } from 'class-validator';
import { PublicRoute } from '../auth/api-key.hook.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import { checkRouteInputs, IdParam, InputRule, inputRulesOf, JsonObjectBody, ValidBody, ValidQuery } from './route-input.js';

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

describe('checkRouteInputs', () => {
  const unheard: unknown[] = [];
  const listen = (reason: unknown) => unheard.push(reason);
  afterEach(() => {
    process.off('unhandledRejection', listen);
    unheard.length = 0;
  });

  async function post(rules: InputRule[], url = '/r', body: unknown = { a: 1 }) {
    const fastify = Fastify();
    checkRouteInputs(fastify);
    fastify.post('/r', { config: { input: rules } }, async (request) => ({ body: request.body, query: request.query }));
    // A real request: light-my-request (inject) loads an ES module Jest cannot require.
    const address = await fastify.listen({ host: '127.0.0.1', port: 0 });
    try {
      const response = await fetch(address + url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: (await response.json()) as { message?: string } & Record<string, unknown> };
    } finally {
      await fastify.close();
    }
  }

  const refusing = (message: string, index: number, delayMs: number): InputRule => ({
    index,
    source: index === 0 ? 'body' : 'query',
    kind: 'dto',
    check: () => new Promise((_resolve, reject) => setTimeout(() => reject(new GatewayError(ErrorCode.InvalidMessage, message)), delayMs)),
  });

  it('refuses with the first refusal in parameter order, however late it comes, and leaves no rejection unheard', async () => {
    process.on('unhandledRejection', listen);
    const response = await post([refusing('body is wrong', 0, 30), refusing('query is wrong', 1, 1)]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(response).toEqual({ status: 400, body: { statusCode: 400, code: ErrorCode.InvalidMessage, message: 'body is wrong' } });
    expect(unheard).toEqual([]);
  });

  it('waits for an earlier asynchronous check before a later synchronous refusal counts', async () => {
    process.on('unhandledRejection', listen);
    const thrown: InputRule = { index: 1, source: 'query', kind: 'dto', check: () => { throw new GatewayError(ErrorCode.InvalidMessage, 'query is wrong'); } };
    expect((await post([refusing('body is wrong', 0, 10), thrown])).body.message).toBe('body is wrong');
    const passing: InputRule = { index: 0, source: 'body', kind: 'dto', check: async (value) => ({ checked: value }) };
    expect((await post([passing, thrown])).body.message).toBe('query is wrong');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(unheard).toEqual([]);
  });

  it('hands the route the checked values, synchronous and asynchronous', async () => {
    const body: InputRule = { index: 0, source: 'body', kind: 'dto', check: async (value) => ({ checked: value }) };
    const query: InputRule = { index: 1, source: 'query', kind: 'dto', check: () => ({ mode: 'checked' }) };
    expect(await post([body, query], '/r?mode=x')).toEqual({ status: 200, body: { body: { checked: { a: 1 } }, query: { mode: 'checked' } } });
  });
});
