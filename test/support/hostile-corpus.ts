import { notifyBody } from './test-app.js';

/**
 * The hostile input of test/hostile-input.e2e-spec.ts that reaches validation: wrong
 * values for every field of every frame and body. The storm sends it to a running server;
 * test/validation-corpus.e2e-spec.ts feeds it to the old and the new validation path.
 */

type Frame = Record<string, any>;

// ---------------------------------------------------------------- socket frames

/** Every field of every action, with values of every wrong type. */
export const SOCKET_WRONG = {
  id: [42, true, null, ['x'], { x: 1 }, '', 'x'.repeat(300)],
  bool: [1, 'true', null, [true], {}, '', 'x'.repeat(300)],
  text: [42, true, null, ['x'], { x: 1 }, 'x'.repeat(4097)],
};
const CONFIRM = { callback_id: 'no-such-callback', proceed: true, feedback: 'ok' };
const CANCEL = { task_id: 'not-mine', user_id: 'mallory-types' };
const SUBSCRIBE = { user_id: 'mallory-types', task_id: 'not-mine' };
export const SOCKET_FIELDS: Array<[action: string, field: string, kind: keyof typeof SOCKET_WRONG, optional: boolean, base: Frame]> = [
  ['confirm', 'callback_id', 'id', false, CONFIRM],
  ['confirm', 'proceed', 'bool', true, CONFIRM],
  ['confirm', 'feedback', 'text', true, CONFIRM],
  ['cancel', 'task_id', 'id', false, CANCEL],
  ['cancel', 'user_id', 'id', true, CANCEL],
  ['subscribe', 'user_id', 'id', true, SUBSCRIBE],
  ['subscribe', 'task_id', 'id', true, SUBSCRIBE],
  ['unsubscribe', 'task_id', 'id', false, { task_id: 'not-mine' }],
];

export const PROTOTYPE_FRAMES: Array<[string, string, Frame]> = [
  ['a top-level __proto__ on ping', '{"action":"ping","__proto__":{"polluted":true}}', { type: 'pong' }],
  ['an action only on __proto__', '{"__proto__":{"action":"ping"}}', { code: 'unknown_action' }],
  ['a __proto__ callback_id', '{"action":"confirm","callback_id":"x","__proto__":{"callback_id":5,"polluted":true}}', { code: 'callback_not_found' }],
  ['a task_id only on __proto__', '{"action":"subscribe","__proto__":{"task_id":"honest-ann-task"}}', { code: 'invalid_message' }],
  ['constructor.prototype', '{"action":"cancel","task_id":"x","constructor":{"prototype":{"polluted":true}}}', { code: 'forbidden' }],
  ['a nested __proto__', '{"action":"confirm","callback_id":"x","feedback":{"__proto__":{"polluted":true}}}', { code: 'invalid_message' }],
  ['a nested constructor.prototype', '{"action":"ping","a":{"constructor":{"prototype":{"polluted":true}}}}', { type: 'pong' }],
  ['__proto__ as the action', '{"action":"__proto__"}', { code: 'unknown_action' }],
  ['constructor as the action', '{"action":"constructor"}', { code: 'unknown_action' }],
  ['toString as the action', '{"action":"toString"}', { code: 'unknown_action' }],
  ['hasOwnProperty as the action', '{"action":"hasOwnProperty"}', { code: 'unknown_action' }],
  ['__proto__ as a callback_id', '{"action":"confirm","callback_id":"__proto__"}', { code: 'callback_not_found' }],
  ['constructor as a task to follow', '{"action":"subscribe","task_id":"constructor"}', { code: 'forbidden' }],
  ['prototype as a task to cancel', '{"action":"cancel","task_id":"prototype"}', { code: 'forbidden' }],
];

// ---------------------------------------------------------------- REST bodies

export const notifyValid = notifyBody('victim', 'victim-task', { timeout_seconds: 1 });
export const grantValid = { user_id: 'victim', ttl_seconds: 60 };
export const heartbeatValid = { user_id: 'victim', task_id: 'victim-task', interval_seconds: 100, duration_seconds: 1 };

export const REST_WRONG = {
  id: [42, true, null, ['x'], { x: 1 }, '', 'x'.repeat(300)],
  // Step names, statuses and error codes may be empty, not longer than an id.
  name: [42, true, null, ['x'], { x: 1 }, 'x'.repeat(300)],
  text: [42, true, null, ['x'], { x: 1 }],
  int: ['1', 1.5, -1, true, null, [1], { n: 1 }, ''],
  number: ['1', true, null, [1], { n: 1 }, '', -1, 0],
  bool: ['true', 1, null, [true], {}, ''],
  object: ['storm', 42, true, null, [], {}],
};
type Kind = keyof typeof REST_WRONG;
export const DTO_FIELDS: Array<[string, object, string, Kind, unknown[]?]> = [
  ['/notify?wait=false', notifyValid, 'user_id', 'id'],
  ['/notify?wait=false', notifyValid, 'task_id', 'id'],
  ['/notify?wait=false', notifyValid, 'step', 'int'],
  ['/notify?wait=false', notifyValid, 'step_result', 'object'],
  ['/notify?wait=false', notifyValid, 'step_result.step', 'name'],
  ['/notify?wait=false', notifyValid, 'step_result.message', 'text'],
  ['/notify?wait=false', notifyValid, 'step_result.status', 'name'],
  ['/notify?wait=false', notifyValid, 'step_result.completed', 'bool'],
  ['/notify?wait=false', notifyValid, 'step_result.error_code', 'name'],
  ['/notify?wait=false', notifyValid, 'timeout_seconds', 'number'],
  ['/notify?wait=false', notifyValid, 'callback_id', 'id', ['a b', '../x', '💥', 'a/b']],
  ['/notify', notifyValid, 'user_id', 'id'],
  ['/notify', notifyValid, 'step_result', 'object'],
  ['/notify', notifyValid, 'timeout_seconds', 'number'],
  ['/tasks/victim-task/subscribers', grantValid, 'user_id', 'id'],
  ['/tasks/victim-task/subscribers', grantValid, 'ttl_seconds', 'number', [1e9]],
  ['/heartbeats', heartbeatValid, 'user_id', 'id'],
  ['/heartbeats', heartbeatValid, 'task_id', 'id'],
  ['/heartbeats', heartbeatValid, 'interval_seconds', 'number', [1e9]],
  ['/heartbeats', heartbeatValid, 'duration_seconds', 'number', [1e9]],
  ['/heartbeats', heartbeatValid, 'message', 'text', ['m'.repeat(1025)]],
];
export const OPTIONAL = new Set(['step_result.completed', 'step_result.error_code', 'timeout_seconds', 'callback_id', 'ttl_seconds', 'duration_seconds', 'message']);
