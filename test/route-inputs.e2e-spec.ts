import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ModulesContainer } from '@nestjs/core';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import type { Type } from '@nestjs/common';
import { inputRulesOf } from '../src/http/route-input.js';
import { startTestApp, TestApp } from './support/test-app.js';

/**
 * REST input is checked by a Fastify hook from rules the parameter decorators leave
 * (src/http/route-input.ts), not by a global pipe. A route whose body or query took a
 * plain @Body() or @Query() would get its input unchecked, so every route is walked here.
 */

/** Path parameters that are free text, checked by their handler: a link's signed token, a static file's name. */
const FREE_TEXT_PARAMS = new Set(['token', 'file']);

describe('route inputs (e2e, memory mode)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ API_KEYS: 'route-inputs-key' });
  });

  afterAll(async () => {
    await t.close();
  });

  it('every body, query and id path parameter of every route has a rule', () => {
    const unchecked: string[] = [];
    let checked = 0;
    for (const module of t.app.get(ModulesContainer).values()) {
      for (const wrapper of module.controllers.values()) {
        const controller = wrapper.metatype as Type;
        for (const method of Object.getOwnPropertyNames(controller.prototype)) {
          if (method === 'constructor') continue;
          const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, method) ?? {}) as Record<string, { index: number; data?: unknown }>;
          const rules = inputRulesOf(controller.prototype[method] as Function);
          for (const [key, arg] of Object.entries(args)) {
            const kind = Number(key.split(':')[0]);
            const needsRule = kind === RouteParamtypes.BODY || kind === RouteParamtypes.QUERY || (kind === RouteParamtypes.PARAM && !FREE_TEXT_PARAMS.has(String(arg.data)));
            if (!needsRule) continue;
            if (rules.some((rule) => rule.index === arg.index)) checked++;
            else unchecked.push(`${controller.name}.${method} parameter ${arg.index}`);
          }
        }
      }
    }
    expect(unchecked).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(20);
  });

  it('refuses with the first problem in parameter order, and runs no handler', async () => {
    const key = { authorization: 'Bearer route-inputs-key' };
    // user_id (parameter 0) before the body (1) and the query (2).
    const bad = await t.http('POST', '/users/a%0Ab/messages?wait_ack_seconds=x', [1], key);
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ statusCode: 400, code: 'invalid_message', message: 'user_id must not contain control characters' });
    const badBody = await t.http('POST', '/users/alice/messages?wait_ack_seconds=x', [1], key);
    expect(badBody.body.message).toBe('The body must be a JSON object');
    const badQuery = await t.http('POST', '/users/alice/messages?wait_ack_seconds=x', { text: 'hi' }, key);
    expect(badQuery.status).toBe(400);
    expect(badQuery.body.message).toMatch(/^wait_ack_seconds /);
    const fine = await t.http('POST', '/users/alice/messages', { text: 'hi' }, key);
    expect(fine).toMatchObject({ status: 200, body: { delivered: 0 } });
  });

  it('refuses a body and a query that are both wrong (both checked by class-validator) with the body first, and stays up', async () => {
    const key = { authorization: 'Bearer route-inputs-key' };
    const refused = await t.http('POST', '/notify?wait=maybe', {}, key);
    expect(refused.body).toEqual({ statusCode: 400, code: 'invalid_message', message: 'user_id is required; task_id is required; step is required; step_result is required' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await t.http('GET', '/health')).status).toBe(200);
  });

  it('hands the handler the DTO the body became (a refused notify creates nothing)', async () => {
    const key = { authorization: 'Bearer route-inputs-key' };
    const refused = await t.http('POST', '/notify?wait=false', { user_id: 'alice', task_id: 't1', step: 1 }, key);
    expect(refused.body).toEqual({ statusCode: 400, code: 'invalid_message', message: 'step_result is required' });
    expect((await t.http('GET', '/status', undefined, key)).body.pending_callbacks).toBe(0);
    const accepted = await t.http('POST', '/notify?wait=false', { user_id: 'alice', task_id: 't1', step: 1, step_result: { step: 's', message: 'm', status: 'ok' } }, key);
    expect(accepted).toMatchObject({ status: 202, body: { state: 'pending' } });
    expect((await t.http('GET', '/status', undefined, key)).body.pending_callbacks).toBe(1);
  });
});
