import { describe, expect, it } from '@jest/globals';
import { redactUrl } from './redaction.js';
import { requestIdOf } from './request-id.js';

describe('redactUrl', () => {
  it.each([
    ['/ws?token=abc.def.ghi', '/ws?token=[Redacted]'],
    ['/?user_id=a&token=abc&x=1', '/?user_id=a&token=[Redacted]&x=1'],
    ['/status?TOKEN=abc#frag', '/status?TOKEN=[Redacted]#frag'],
    ['/x?access_token=a&api_key=b', '/x?access_token=[Redacted]&api_key=[Redacted]'],
    ['/tasks/token=abc', '/tasks/token=abc'],
    ['/status?notoken=abc', '/status?notoken=abc'],
    ['/a/eyJwYXlsb2Fk.bWFj', '/a/[Redacted]'],
    ['/a/eyJwYXlsb2Fk.bWFj?token=x#f', '/a/[Redacted]?token=[Redacted]#f'],
    ['/a/assets/links.css', '/a/assets/links.css'],
    ['/ab/c', '/ab/c'],
  ])('%s -> %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });
});

describe('requestIdOf', () => {
  it('takes a plausible X-Request-Id over', () => {
    expect(requestIdOf({ headers: { 'x-request-id': 'abc-123:x/y' } })).toBe('abc-123:x/y');
  });

  it.each([['with spaces'], ['x'.repeat(129)], [''], ['line\nbreak'], ['{"json":1}']])('replaces %j with a UUID', (given) => {
    expect(requestIdOf({ headers: { 'x-request-id': given } })).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
  });
});
