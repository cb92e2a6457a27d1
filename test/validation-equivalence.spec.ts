import { describe, expect, it } from '@jest/globals';
import type { Paramtype, Type } from '@nestjs/common';
import { ConfirmationQueryDto } from '../src/confirmations/dto/confirmation-query.dto.js';
import { NotifyQueryDto } from '../src/notify/dto/notify-query.dto.js';
import { NotifyRequestDto } from '../src/notify/dto/notify-request.dto.js';
import { AckFrame, CancelFrame, ConfirmFrame, SubscribeFrame, UnsubscribeFrame } from '../src/protocol/client-frames.js';
import { ConnectionsQueryDto } from '../src/delivery/dto/connections-query.dto.js';
import { NOT_SURE, validateCompiled } from '../src/protocol/compiled-validator.js';
import { classValidatorPipe, MAX_INPUT_DEPTH, nestsDeeperThan, validationPipe } from '../src/protocol/validation.js';
import { GrantRequestDto } from '../src/tasks/dto/grant-request.dto.js';
import { HeartbeatRequestDto } from '../src/tasks/dto/heartbeat-request.dto.js';
import {
  DTO_FIELDS,
  grantValid,
  heartbeatValid,
  notifyValid,
  PROTOTYPE_FRAMES,
  REST_WRONG,
  SOCKET_FIELDS,
  SOCKET_WRONG,
} from './support/hostile-corpus.js';
import { report } from './support/report.js';

/**
 * "Nothing valid today becomes invalid, nothing invalid valid": the same corpus of valid
 * and invalid bodies and frames goes through the reference path (Nest's ValidationPipe
 * with class-validator, after the depth check) and through the service's pipe (the
 * compiled JSON Schema first), which must agree on every verdict, every error message
 * and every accepted value.
 */

type Json = unknown;
interface Case {
  dto: Type;
  type: Paramtype;
  value: Json;
  label: string;
  /** The JSON text, for input too deep to copy by stringifying it. */
  raw?: string;
}

const reference = classValidatorPipe();
const FRAME_DTOS: Record<string, Type> = { confirm: ConfirmFrame, cancel: CancelFrame, subscribe: SubscribeFrame, unsubscribe: UnsubscribeFrame, ack: AckFrame };
const copy = (value: Json): Json => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

async function verdict(run: () => unknown): Promise<{ ok: boolean; value?: string; prototype?: object | null; error?: string }> {
  try {
    const value = await run();
    return { ok: true, value: JSON.stringify(value), prototype: Object.getPrototypeOf(value) };
  } catch (err) {
    return { ok: false, error: `${(err as Error).constructor.name}: ${(err as Error).message}` };
  }
}

function referencePath({ dto, type, value }: Case) {
  return verdict(() => {
    if (nestsDeeperThan(value, MAX_INPUT_DEPTH)) return validationPipe.transform(value, { type, metatype: dto });
    return reference.transform(value, { type, metatype: dto });
  });
}

function servicePath({ dto, type, value }: Case) {
  return verdict(() => validationPipe.transform(value, { type, metatype: dto }));
}

/** Sets a (dotted) field of a copy of the body; `undefined` removes it. */
function withField(body: object, path: string, value: unknown): Record<string, unknown> {
  const result = copy(body) as Record<string, any>;
  const keys = path.split('.');
  const leaf = keys.pop() as string;
  let target = result;
  for (const key of keys) {
    if (typeof target[key] !== 'object' || target[key] === null) return result; // replaced by a mutation before
    target = target[key];
  }
  if (value === undefined) delete target[leaf];
  else target[leaf] = copy(value);
  return result;
}

// ---------------------------------------------------------------- the corpus

/** Bodies and answers as task services and browsers send them (the benchmark's too). */
const REALISTIC_NOTIFY = [
  { user_id: 'user_123', task_id: 'task_456', step: 1, step_result: { step: 'data_validation', result: { validated_rows: 1000, errors: 5 }, completed: true, message: '数据验证完成，发现5个错误', status: 'completed' } },
  { user_id: 'user_123', task_id: 'task_789', step: 2, step_result: { step: 'model_training', result: null, completed: false, message: '模型训练失败，是否重试？', status: 'failed', error_code: 'E003', error_message: 'GPU 内存不足' } },
  { user_id: 'u', task_id: 't', step: 0, step_result: { step: 's', message: 'm', status: 'ok', error_code: null, error_message: null, completed: null, result: [1, { a: '😀\ufe0f' }] }, timeout_seconds: 0.05, callback_id: 'a.b:c-d_e' },
  { user_id: '用户', task_id: '任务', step: 7, step_result: { step: '导出', message: '导出失败！请选择：重试／跳过。', status: '失败' }, timeout_seconds: 86400, extra: { x: 1 } },
];
const REALISTIC_FRAMES = [
  { action: 'confirm', callback_id: 'callback_123', proceed: true, feedback: '同意继续执行' },
  { action: 'confirm', callback_id: 'callback_123', proceed: true, feedback: '同意继续执行，请在完成后通知我。' },
  { action: 'confirm', callback_id: 'callback_123', proceed: false, feedback: null },
  { action: 'confirm', callback_id: 'callback_123' },
  { action: 'cancel', user_id: 'user_123', task_id: 'task_456' },
  { action: 'subscribe', user_id: 'user_123' },
  { action: 'subscribe', task_id: 'task_456', junk: [1, 2] },
  { action: 'unsubscribe', task_id: 'task_456' },
  { action: 'ack', message_id: 'msg_1' },
];

/**
 * Characters the id rule refuses (C0, DEL, C1, line and paragraph separators) and invisible
 * ones it takes (joiners, bidi marks, variation selectors, no-break space), alone and inside ids.
 */
const CONTROL_IDS = ['\n', 'carol\nprod', 'a\r\nb', '\u0000', 'x\u0000', '\t', 'a\u001f', 'a\u007f', '\u0080', 'a\u0085b', 'a\u009f', 'a\u2028b', 'a\u2029'];
const INVISIBLE_IDS = ['👩\u200d💻', 'a\u200bb', 'a\u200cb', '\u202eabc', '\u2066a\u2069', 'a\u00a0b', 'x\ufe0f', '\u00ad', '\ufeffa'];

/** Strings at the edges of every length rule, in every kind of character class-validator counts differently. */
function edgeStrings(): string[] {
  const units = ['x', '数', '，', '😀', '\ufe0f', 'a\ufe0f', '😀\ufe0f', '\ud83d', '\ude00', '\ufe0e\ufe0f', 'é'];
  const lengths = [0, 1, 2, 3, 255, 256, 257, 1024, 1025, 4096, 4097, 16384, 16385];
  const strings = ['', ' ', 'true', 'false', '1', 'a b', '../x', 'a/b', 'A-Za-z0-9._:-', 'abc\n', 'x\u0000', ...CONTROL_IDS, ...INVISIBLE_IDS];
  for (const unit of units) for (const n of lengths) strings.push(unit.repeat(Math.ceil(n / unit.length)).slice(0, n), unit.repeat(n));
  return strings;
}

const EDGE_VALUES: Json[] = [
  ...edgeStrings(),
  0, -0, 1, -1, 0.05, 0.0499999, 1.5, 3600, 3600.0001, 86400, 604800, 604801, 2592000, 2592001, 1e9, 2 ** 53 + 2, 1e308, -1e308,
  true, false, null, [], [1], ['x'], {}, { x: 1 }, { step: 's', message: 'm', status: 'st' },
];

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function mutations(base: object, fields: string[], count: number, seed: number): Json[] {
  const next = random(seed);
  const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)];
  const out: Json[] = [];
  for (let i = 0; i < count; i++) {
    let body = copy(base) as Record<string, unknown>;
    const changes = 1 + Math.floor(next() * 2);
    for (let c = 0; c < changes; c++) body = withField(body, pick(fields), next() < 0.1 ? undefined : pick(EDGE_VALUES));
    out.push(body);
  }
  return out;
}

const NOTIFY_FIELDS = ['user_id', 'task_id', 'step', 'step_result', 'timeout_seconds', 'callback_id', 'extra',
  'step_result.step', 'step_result.result', 'step_result.completed', 'step_result.message', 'step_result.status',
  'step_result.error_code', 'step_result.error_message', 'step_result.extra'];

function corpus(): Case[] {
  const cases: Case[] = [];
  const body = (dto: Type, value: Json, label: string) => cases.push({ dto, type: 'body', value, label });
  const frame = (value: Json, label: string, raw?: string) => {
    const action = (value as { action?: unknown } | null)?.action;
    const dto = typeof action === 'string' && Object.hasOwn(FRAME_DTOS, action) ? FRAME_DTOS[action] : undefined;
    if (dto) cases.push({ dto, type: 'body', value, label, raw });
  };
  const deepFrame = (raw: string, label: string) => frame(JSON.parse(raw), label, raw);

  REALISTIC_NOTIFY.forEach((v, i) => body(NotifyRequestDto, v, `realistic notify ${i}`));
  REALISTIC_FRAMES.forEach((v, i) => frame(v, `realistic frame ${i}`));

  // The hostile storm's socket frames and REST bodies.
  for (const [action, field, kind, , base] of SOCKET_FIELDS) {
    for (const value of SOCKET_WRONG[kind]) frame({ action, ...base, [field]: value }, `hostile ${action}.${field}=${JSON.stringify(value).slice(0, 20)}`);
  }
  for (const [name, text] of PROTOTYPE_FRAMES) frame(JSON.parse(text), `hostile ${name}`);
  const nested = '['.repeat(7000) + ']'.repeat(7000);
  deepFrame(`{"action":"confirm","callback_id":"no-such-callback","junk":${nested}}`, 'hostile deep junk');
  deepFrame(`{"action":"confirm","callback_id":"no-such-callback","proceed":${nested}}`, 'hostile deep proceed');
  deepFrame(`{"action":"cancel","task_id":${nested}}`, 'hostile deep task_id');
  deepFrame(`{"action":"subscribe","task_id":"t","extra":${'{"a":'.repeat(2500)}1${'}'.repeat(2500)}}`, 'hostile deep extra');
  const dtoOfPath = (path: string) => (path.startsWith('/notify') ? NotifyRequestDto : path === '/heartbeats' ? HeartbeatRequestDto : GrantRequestDto);
  for (const [path, valid, field, kind, extra = []] of DTO_FIELDS) {
    for (const value of [...REST_WRONG[kind], ...extra]) body(dtoOfPath(path), withField(valid, field, value), `hostile ${path} ${field}=${JSON.stringify(value).slice(0, 20)}`);
  }
  body(NotifyRequestDto, JSON.parse('{"__proto__":{"polluted":true},"type":"storm","user_id":"victim"}'), 'hostile __proto__ body');
  body(NotifyRequestDto, JSON.parse('{"type":"storm","step_result":{"__proto__":{"polluted":true}}}'), 'hostile nested __proto__ body');
  body(NotifyRequestDto, { ...notifyValid, step_result: JSON.parse('{"step":"s","message":"m","status":"x","__proto__":{"step":5}}') }, 'valid with a nested __proto__');
  for (const value of [null, [], [notifyValid], 42, 'storm', true, {}]) body(NotifyRequestDto, value, `hostile ${JSON.stringify(value).slice(0, 20)} body`);

  // Every id field of every DTO and frame with and without control characters.
  const idFields: Array<[Type, object, string]> = [
    [NotifyRequestDto, notifyValid, 'user_id'], [NotifyRequestDto, notifyValid, 'task_id'], [NotifyRequestDto, notifyValid, 'callback_id'],
    [GrantRequestDto, grantValid, 'user_id'], [HeartbeatRequestDto, heartbeatValid, 'user_id'], [HeartbeatRequestDto, heartbeatValid, 'task_id'],
  ];
  for (const [dto, valid, field] of idFields) {
    for (const id of [...CONTROL_IDS, ...INVISIBLE_IDS]) body(dto, withField(valid, field, id), `id ${dto.name}.${field}=${JSON.stringify(id)}`);
  }
  for (const id of [...CONTROL_IDS, ...INVISIBLE_IDS]) {
    cases.push({ dto: ConnectionsQueryDto, type: 'query', value: { user_id: id }, label: `connections query user_id=${JSON.stringify(id)}` });
    for (const [action, field] of [['confirm', 'callback_id'], ['cancel', 'task_id'], ['cancel', 'user_id'], ['subscribe', 'user_id'], ['subscribe', 'task_id'], ['unsubscribe', 'task_id'], ['ack', 'message_id']]) {
      const base = action === 'cancel' && field === 'user_id' ? { task_id: 't' } : {};
      frame({ action, ...base, [field]: id }, `id ${action}.${field}=${JSON.stringify(id)}`);
    }
  }

  // Missing fields, alone and with wrong ones: "is required" first, once per field.
  for (const missing of [['user_id'], ['step_result'], ['step_result.step'], ['user_id', 'step_result.step', 'step_result.status']]) {
    let value: Record<string, unknown> = notifyValid;
    for (const field of missing) value = withField(value, field, undefined);
    body(NotifyRequestDto, value, `notify without ${missing.join(', ')}`);
    body(NotifyRequestDto, withField(value, 'step', 'three'), `notify without ${missing.join(', ')}, step a string`);
  }
  body(NotifyRequestDto, {}, 'notify {}');

  // Every field of every DTO set to every edge value, one or two at a time.
  mutations(notifyValid, NOTIFY_FIELDS, 3000, 1).forEach((v, i) => body(NotifyRequestDto, v, `notify mutation ${i}`));
  mutations(REALISTIC_NOTIFY[1], NOTIFY_FIELDS, 1000, 2).forEach((v, i) => body(NotifyRequestDto, v, `realistic notify mutation ${i}`));
  mutations(grantValid, ['user_id', 'ttl_seconds', 'extra'], 500, 3).forEach((v, i) => body(GrantRequestDto, v, `grant mutation ${i}`));
  mutations(heartbeatValid, ['user_id', 'task_id', 'interval_seconds', 'duration_seconds', 'message', 'extra'], 800, 4).forEach((v, i) =>
    body(HeartbeatRequestDto, v, `heartbeat mutation ${i}`),
  );
  for (const [action, fields] of [['confirm', ['callback_id', 'proceed', 'feedback', 'extra']], ['cancel', ['task_id', 'user_id']], ['subscribe', ['user_id', 'task_id']], ['unsubscribe', ['task_id']], ['ack', ['message_id', 'extra']]] as const) {
    const base = REALISTIC_FRAMES.find((f) => f.action === action) as object;
    mutations(base, [...fields], 600, action.length).forEach((v, i) => frame(v, `${action} mutation ${i}`));
  }

  // Queries arrive as strings (or are missing).
  for (const wait of [undefined, 'true', 'false', 'TRUE', '', '1', ['true']]) cases.push({ dto: NotifyQueryDto, type: 'query', value: wait === undefined ? {} : { wait }, label: `notify query ${wait}` });
  for (const wait of [undefined, '0', '30', '300', '301', '-1', 'abc', '', '1e2', ['5']]) {
    cases.push({ dto: ConfirmationQueryDto, type: 'query', value: wait === undefined ? {} : { wait_seconds: wait }, label: `confirmation query ${wait}` });
  }
  return cases;
}

describe('validation: the compiled schemas agree with class-validator', () => {
  const cases = corpus();

  it(`gives the same verdict, message and value for each of ${cases.length} bodies and frames`, async () => {
    const disagreements: string[] = [];
    let accepted = 0;
    let acceptedBodies = 0;
    let compiledAccepted = 0;
    const controlIdsAccepted: string[] = [];
    const invisibleIdsRefused: string[] = [];
    for (const c of cases) {
      const fresh = () => (c.raw === undefined ? copy(c.value) : JSON.parse(c.raw));
      const [expected, actual] = [await referencePath({ ...c, value: fresh() }), await servicePath({ ...c, value: fresh() })];
      if (expected.ok) accepted++;
      if (expected.ok && c.label.startsWith('id ') && CONTROL_IDS.some((id) => c.label.endsWith(`=${JSON.stringify(id)}`))) controlIdsAccepted.push(c.label);
      // A caller-chosen callback_id keeps a stricter pattern of its own.
      if (!expected.ok && c.label.startsWith('id ') && !c.label.startsWith('id NotifyRequestDto.callback_id') && INVISIBLE_IDS.some((id) => c.label.endsWith(`=${JSON.stringify(id)}`))) invisibleIdsRefused.push(c.label);
      if (expected.ok && c.type === 'body') {
        acceptedBodies++;
        if (validateCompiled(c.dto, c.raw === undefined ? copy(c.value) : JSON.parse(c.raw)) !== NOT_SURE) compiledAccepted++;
      }
      if (JSON.stringify(expected) !== JSON.stringify(actual) || expected.prototype !== actual.prototype) {
        disagreements.push(`${c.label}: reference ${JSON.stringify(expected).slice(0, 200)} / service ${JSON.stringify(actual).slice(0, 200)}`);
      }
    }
    expect(disagreements.slice(0, 10)).toEqual([]);
    // The corpus is worth something only with plenty of both verdicts.
    expect(accepted).toBeGreaterThan(cases.length / 5);
    expect(cases.length - accepted).toBeGreaterThan(cases.length / 5);
    // And the fast path must be what answers valid bodies (all but edge cases such as a
    // variation selector in a string at its maximum length).
    expect(compiledAccepted / acceptedBodies).toBeGreaterThan(0.95);
    expect(controlIdsAccepted).toEqual([]);
    expect(invisibleIdsRefused).toEqual([]);
    report(`validation corpus: ${cases.length} cases, ${accepted} valid; the compiled schema accepted ${compiledAccepted} of the ${acceptedBodies} valid bodies and frames itself`);
  }, 120_000);
});
