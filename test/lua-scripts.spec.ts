import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { LUA_DIR, LuaScripts, ScriptName, scriptSource } from '../src/redis/lua-scripts.js';
import { RedisServer } from './support/redis-server.js';
import { requireProgram } from './support/system-dependency.js';

/**
 * Each Lua script (confirmation, ack and heartbeat stores, broker, history, presence), run directly against a
 * real redis-server through the registry the stores use (key names here are plain: the
 * scripts do not care how the stores name them).
 */
const haveRedis = requireProgram('redis-server', 'redis-server');

(haveRedis ? describe : describe.skip)('Lua scripts on a real redis-server', () => {
  let server: RedisServer;
  let redis: Redis;
  let scripts: LuaScripts;

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url);
    scripts = LuaScripts.of(redis);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.close();
  });
  beforeEach(async () => {
    await redis.flushdb();
  });

  const hash = (flat: string[] | undefined) => Object.fromEntries(Array.from({ length: (flat?.length ?? 0) / 2 }, (_, i) => [flat![2 * i], flat![2 * i + 1]]));

  it('every file under src/redis/lua is a registered script Redis compiles', async () => {
    const files = readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua')).sort();
    const names: ScriptName[] = [
      'confirmationCreate', 'confirmationReserve', 'confirmationRetain', 'confirmationExpireIndex', 'confirmationForget',
      'confirmationSettle', 'confirmationWatch', 'confirmationIndexTaskUser', 'ack', 'heartbeatStart', 'heartbeatBeat',
      'heartbeatClaim', 'heartbeatStop', 'brokerPublish', 'historyRead', 'presenceJoin', 'webhookEnqueue', 'webhookClaim',
      'webhookFinish', 'confirmationVote', 'confirmationAddApprovers', 'scheduleAdd', 'scheduleClaim', 'scheduleComplete', 'scheduleCancel',
    ];
    expect(files).toHaveLength(names.length);
    for (const name of names) expect(await redis.script('LOAD', scriptSource(name))).toMatch(/^[0-9a-f]{40}$/);
  });

  it('runs again after Redis forgot its scripts (EVALSHA answered NOSCRIPT)', async () => {
    expect(await scripts.run('confirmationReserve', ['sched'], ['m1', 100, 10])).toBe('reserved');
    await redis.script('FLUSH');
    expect(await scripts.run('confirmationReserve', ['sched'], ['m1', 100, 10])).toBe('present');
  });

  it('refuses a call with the wrong number of keys before it reaches Redis', () => {
    expect(() => scripts.run('confirmationSettle', ['only-one'], [])).toThrow('takes 3 keys');
  });

  describe('confirmations', () => {
    const KEYS = ['rec', 'pending', 'cx', 'involved', 'waiters'];
    const args = (over: { maxPerUser?: number; waiter?: string; full?: boolean; now?: number } = {}) => [
      'cb1', 'alice', 'task-1', 3, 1000, 61_000, 'step', 'msg', '{"type":"task_step_result"}',
      over.maxPerUser ?? 10, over.waiter ?? '', 60_000, 5000, over.full ? '1' : '0', over.now ?? 1000,
    ];

    it('create stores a pending record, indexes it and registers the waiter', async () => {
      expect(await scripts.run('confirmationCreate', KEYS, args({ waiter: 'inst-a' }))).toEqual(['created', 'pending']);
      expect(await redis.hgetall('rec')).toMatchObject({ id: 'cb1', u: 'alice', t: 'task-1', st: 'pending', f: '{"type":"task_step_result"}' });
      expect(await redis.zrange('pending', 0, -1)).toEqual(['cb1']);
      expect(await redis.smembers('waiters')).toEqual(['inst-a']);
      expect(await redis.zrange('involved', 0, -1, 'WITHSCORES')).toEqual(['cb1', String(1000 + 60_000)]);
      const [kind, fields] = await scripts.run('confirmationCreate', KEYS, args({ waiter: 'inst-b' }));
      expect(kind).toBe('existing');
      expect(hash(fields as string[])).toMatchObject({ id: 'cb1', st: 'pending' });
      expect((await redis.smembers('waiters')).sort()).toEqual(['inst-a', 'inst-b']);
    });

    it('create keeps the optional fields it is given as pairs (here an action-link grant, l), and none otherwise', async () => {
      expect(await scripts.run('confirmationCreate', KEYS, [...args(), 'l', '61000:n0nce'])).toEqual(['created', 'pending']);
      expect(await redis.hget('rec', 'l')).toBe('61000:n0nce');
      await redis.del('rec');
      expect(await scripts.run('confirmationCreate', KEYS, args())).toEqual(['created', 'pending']);
      expect(await redis.hexists('rec', 'l')).toBe(0);
    });

    it('create refuses at the per-user cap, then at a full schedule, but not for a cancelled task', async () => {
      await redis.zadd('pending', 1, 'other');
      expect(await scripts.run('confirmationCreate', KEYS, args({ maxPerUser: 1 }))).toEqual(['user_cap']);
      expect(await scripts.run('confirmationCreate', KEYS, args({ full: true }))).toEqual(['total_cap']);
      expect(await redis.exists('rec', 'involved')).toBe(0);
      await redis.set('cx', '900');
      expect(await scripts.run('confirmationCreate', KEYS, args({ maxPerUser: 1, full: true }))).toEqual(['created', 'cancelled']);
      expect(await redis.hgetall('rec')).toMatchObject({ st: 'cancelled', p: '0', sa: '1000' });
      expect(await redis.hexists('rec', 'f')).toBe(0);
      expect(await redis.pttl('rec')).toBeLessThanOrEqual(5000);
      expect(await redis.zrange('pending', 0, -1)).toEqual(['other']);
    });

    it('reserve takes a place in the schedule only while there is room, once per member', async () => {
      expect(await scripts.run('confirmationReserve', ['sched'], ['a', 100, 2])).toBe('reserved');
      expect(await scripts.run('confirmationReserve', ['sched'], ['a', 200, 2])).toBe('present');
      expect(await scripts.run('confirmationReserve', ['sched'], ['b', 100, 2])).toBe('reserved');
      expect(await scripts.run('confirmationReserve', ['sched'], ['c', 100, 2])).toBe('full');
      expect(await redis.zrange('sched', 0, -1, 'WITHSCORES')).toEqual(['a', '100', 'b', '100']);
    });

    it('retain moves a member from the schedule to the retained set and pops the oldest past the cap', async () => {
      await redis.zadd('sched', 1, 'a', 2, 'b', 3, 'c');
      const retain = (member: string, at: number, force = '0') => scripts.run('confirmationRetain', ['sched', 'kept'], [member, at, 2, 0, force, 60_000]);
      expect(await retain('a', 10)).toEqual([]);
      expect(await retain('a', 11)).toEqual([]); // not in the schedule any more: not counted twice
      expect(await retain('b', 20)).toEqual([]);
      expect(await retain('c', 30)).toEqual(['a']);
      expect(await retain('born-settled', 40, '1')).toEqual(['b']);
      expect(await redis.zrange('kept', 0, -1)).toEqual(['c', 'born-settled']);
      expect(await redis.zcard('sched')).toBe(0);
      expect(await redis.pttl('kept')).toBeGreaterThan(59_000);
      // Members past their retention leave without counting.
      await scripts.run('confirmationRetain', ['sched', 'kept'], ['d', 50, 2, 35, '1', 60_000]);
      expect(await redis.zrange('kept', 0, -1)).toEqual(['born-settled', 'd']);
    });

    it('expire-index shortens the index of the given user only', async () => {
      await redis.set('idx', JSON.stringify(['alice', 'task-1']), 'PX', 60_000);
      await scripts.run('confirmationExpireIndex', ['idx'], ['mallory', 1000]);
      expect(await redis.pttl('idx')).toBeGreaterThan(59_000);
      await scripts.run('confirmationExpireIndex', ['idx'], ['alice', 1000]);
      expect(await redis.pttl('idx')).toBeLessThanOrEqual(1000);
      await scripts.run('confirmationExpireIndex', ['missing'], ['alice', 1000]);
      expect(await redis.exists('missing')).toBe(0);
    });

    it('forget deletes a settled record, never a pending one', async () => {
      await redis.hset('rec', 'st', 'pending');
      expect(await scripts.run('confirmationForget', ['rec'], [])).toBe(0);
      await redis.hset('rec', 'st', 'confirmed');
      expect(await scripts.run('confirmationForget', ['rec'], [])).toBe(1);
      expect(await scripts.run('confirmationForget', ['rec'], [])).toBe(0);
    });

    it('settle is a compare-and-set from pending that hands back the waiters', async () => {
      await scripts.run('confirmationCreate', KEYS, args({ waiter: 'inst-a' }));
      const settle = (state: string, feedback: string | null) =>
        scripts.run('confirmationSettle', ['rec', 'pending', 'waiters'], ['cb1', state, state === 'confirmed' ? '1' : '0', feedback ?? '', 2000, 5000, feedback === null ? '0' : '1']);
      const [kind, fields, waiting] = await settle('confirmed', 'go');
      expect(kind).toBe('settled');
      expect(hash(fields)).toMatchObject({ st: 'confirmed', p: '1', fb: 'go', sa: '2000', f: '' });
      expect(waiting).toEqual(['inst-a']);
      expect(await redis.exists('waiters')).toBe(0);
      expect(await redis.zcard('pending')).toBe(0);
      expect(await redis.pttl('rec')).toBeLessThanOrEqual(5000);
      const [again, same] = await settle('rejected', null);
      expect(again).toBe('already');
      expect(hash(same)).toMatchObject({ st: 'confirmed', fb: 'go' });
      expect(await scripts.run('confirmationSettle', ['nothing', 'pending', 'waiters'], ['x', 'confirmed', '1', '', 1, 1, '0'])).toEqual(['not_found']);
    });

    it('watch joins the waiters only while pending and answers the record', async () => {
      expect(await scripts.run('confirmationWatch', ['rec', 'waiters'], ['inst-a', 1000])).toEqual([]);
      await redis.hset('rec', 'id', 'cb1', 'st', 'pending');
      expect(hash(await scripts.run('confirmationWatch', ['rec', 'waiters'], ['inst-a', 1000]))).toEqual({ id: 'cb1', st: 'pending' });
      expect(await redis.smembers('waiters')).toEqual(['inst-a']);
      await redis.hset('rec', 'st', 'confirmed');
      await scripts.run('confirmationWatch', ['rec', 'waiters'], ['inst-b', 1000]);
      expect(await redis.smembers('waiters')).toEqual(['inst-a']);
    });

    it('index-task-user adds the user and keeps the longest TTL', async () => {
      await scripts.run('confirmationIndexTaskUser', ['users'], [100, 'alice', 60_000]);
      await scripts.run('confirmationIndexTaskUser', ['users'], [200, 'bob', 1000]);
      expect(await redis.zrange('users', 0, -1)).toEqual(['alice', 'bob']);
      expect(await redis.pttl('users')).toBeGreaterThan(59_000);
    });
  });

  describe('acks', () => {
    const message = { messageId: 'm1', userId: 'alice', taskId: null, frame: '{}', createdAt: 1, expiresAt: 5000, ackedAt: null, ackedBy: null, ackedConnection: null };

    it('records the first ack of an unexpired message, then answers already; expired and missing ones are refused', async () => {
      await redis.set('msg', JSON.stringify(message));
      const [outcome, raw] = await scripts.run('ack', ['msg'], ['alice', 'conn-1', 1000, 60_000]);
      expect(outcome).toBe('acked');
      expect(JSON.parse(raw)).toMatchObject({ ackedAt: 1000, ackedBy: 'alice', ackedConnection: 'conn-1' });
      expect(await redis.pttl('msg')).toBeGreaterThan(59_000);
      expect((await scripts.run('ack', ['msg'], ['alice', 'conn-2', 1001, 60_000]))[0]).toBe('already');
      await redis.set('msg', JSON.stringify(message));
      expect((await scripts.run('ack', ['msg'], ['alice', 'conn-1', 5000, 60_000]))[0]).toBe('expired');
      expect(await scripts.run('ack', ['gone'], ['alice', 'conn-1', 1, 60_000])).toEqual(['not_found', '']);
    });
  });

  describe('heartbeats', () => {
    const fields = (id: string, owner: string, leaseUntil: number) => ['id', id, 'u', 'alice', 't', 'task-1', 'b', '0', 'o', owner, 'l', String(leaseUntil)];

    it('start replaces the task\'s heartbeat and answers the one it replaced', async () => {
      expect(await scripts.run('heartbeatStart', ['hb'], [...fields('h1', 'a', 100), 60_000])).toEqual([]);
      expect(hash(await scripts.run('heartbeatStart', ['hb'], [...fields('h2', 'b', 100), 60_000]))).toMatchObject({ id: 'h1', o: 'a' });
      expect(await redis.hgetall('hb')).toMatchObject({ id: 'h2', o: 'b' });
      expect(await redis.pttl('hb')).toBeGreaterThan(59_000);
    });

    it('beat counts only for the current heartbeat and its owner, renewing the lease', async () => {
      await scripts.run('heartbeatStart', ['hb'], [...fields('h1', 'a', 100), 60_000]);
      expect(hash(await scripts.run('heartbeatBeat', ['hb'], ['h1', 'a', 500]))).toMatchObject({ b: '1', l: '500' });
      expect(await scripts.run('heartbeatBeat', ['hb'], ['h1', 'b', 600])).toEqual([]);
      expect(await scripts.run('heartbeatBeat', ['hb'], ['h0', 'a', 600])).toEqual([]);
      expect(await redis.hget('hb', 'b')).toBe('1');
    });

    it('claim takes over only a heartbeat whose lease has run out', async () => {
      await scripts.run('heartbeatStart', ['hb'], [...fields('h1', 'a', 1000), 60_000]);
      expect(await scripts.run('heartbeatClaim', ['hb'], ['b', 999, 2000])).toEqual([]);
      expect(hash(await scripts.run('heartbeatClaim', ['hb'], ['b', 1000, 2000]))).toMatchObject({ o: 'b', l: '2000' });
      expect(await scripts.run('heartbeatClaim', ['missing'], ['b', 1000, 2000])).toEqual([]);
    });

    it('stop removes the heartbeat only if it is the one named', async () => {
      await scripts.run('heartbeatStart', ['hb'], [...fields('h1', 'a', 100), 60_000]);
      expect(await scripts.run('heartbeatStop', ['hb'], ['h0'])).toEqual([]);
      expect(hash(await scripts.run('heartbeatStop', ['hb'], ['h1']))).toMatchObject({ id: 'h1' });
      expect(await redis.exists('hb')).toBe(0);
    });
  });

  describe('broker and history', () => {
    const KEYS = ['hist', 'meta'];
    /** ARGV of broker-publish: frame prefix, size, ttl s, meta ttl s, epoch, now, skip, channel, envelope prefix, max bytes, publish command. */
    const publish = (frame: string, over: { size?: number; maxBytes?: number; channel?: string; skip?: string; epoch?: string; command?: string } = {}) =>
      scripts.run('brokerPublish', KEYS, [
        `${frame.slice(0, -1)},"offset":`, over.size ?? 10, 600, 86_400, over.epoch ?? 'ep1', 1000, over.skip ?? '', over.channel ?? '', '{"x":"c1",', over.maxBytes ?? 1_000_000, over.command ?? 'publish',
      ]);
    const read = (from: string, through = '', frames = 100, bytes = 1_000_000) => scripts.run('historyRead', KEYS, [from, through, 'ep2', 86_400, 10, frames, bytes]);

    it('publish appends with the next offset, keeps the first epoch and publishes envelope and frame together', async () => {
      const listener = redis.duplicate();
      const messages: string[] = [];
      await listener.subscribe('ch');
      listener.on('message', (_channel: string, message: string) => messages.push(message));
      expect(await publish('{"a":1}', { channel: 'ch' })).toEqual([1, 1]);
      expect(await publish('{"a":2}', { channel: 'ch', epoch: 'other' })).toEqual([2, 1]);
      expect(await publish('{"a":3}')).toEqual([3, 0]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      listener.disconnect();
      expect(messages).toEqual(['{"x":"c1","o":1}\n{"a":1,"offset":1}', '{"x":"c1","o":2}\n{"a":2,"offset":2}']);
      expect(await redis.hgetall('meta')).toMatchObject({ e: 'ep1', s: '3' });
      expect((await redis.xrange('hist', '-', '+')).map(([id, fields]) => [id, fields[1]])).toEqual([
        ['1-0', '{"a":1,"offset":1}'], ['2-0', '{"a":2,"offset":2}'], ['3-0', '{"a":3,"offset":3}'],
      ]);
      expect(await redis.ttl('hist')).toBeGreaterThan(590);
    });

    it('publishes on a sharded channel when told to (Redis Cluster)', async () => {
      const listener = redis.duplicate();
      const messages: string[] = [];
      await listener.ssubscribe('sch');
      listener.on('smessage', (_channel: string, message: string) => messages.push(message));
      expect(await publish('{"a":1}', { channel: 'sch', command: 'spublish' })).toEqual([1, 1]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      listener.disconnect();
      expect(messages).toEqual(['{"x":"c1","o":1}\n{"a":1,"offset":1}']);
    });

    it('publish trims to the last size frames and to the byte bound, counting the bytes kept', async () => {
      for (let i = 1; i <= 5; i++) await publish(`{"n":${i}}`, { size: 3 });
      expect((await redis.xrange('hist', '-', '+')).map(([id]) => id)).toEqual(['3-0', '4-0', '5-0']);
      const frame = '{"n":6,"offset":6}';
      await publish('{"n":6}', { size: 3, maxBytes: frame.length * 2 });
      expect((await redis.xrange('hist', '-', '+')).map(([id]) => id)).toEqual(['5-0', '6-0']);
      expect(Number(await redis.hget('meta', 'b'))).toBe(2 * frame.length);
    });

    it('publish keeps the skipped users with a task frame', async () => {
      await publish('{"a":1}', { skip: '["alice"]' });
      expect((await redis.xrange('hist', '-', '+'))[0][1]).toEqual(['d', '{"a":1,"offset":1}', 't', '1000', 's', '["alice"]']);
    });

    it('read makes an unknown stream at offset 0 with the given epoch, and pages by frames and bytes', async () => {
      expect(await read('')).toEqual(['0', 'ep2', []]);
      await redis.del('meta');
      for (let i = 1; i <= 4; i++) await publish(`{"n":${i}}`);
      const [top, epoch, entries] = await read('2');
      expect([top, epoch, entries.map(([id]) => id)]).toEqual(['4', 'ep1', ['2-0', '3-0', '4-0']]);
      expect((await read('1', '2'))[2].map(([id]) => id)).toEqual(['1-0', '2-0']);
      expect((await read('1', '', 2))[2].map(([id]) => id)).toEqual(['1-0', '2-0']);
      expect((await read('1', '', 100, 1))[2].map(([id]) => id)).toEqual(['1-0']);
      expect(await redis.ttl('meta')).toBeGreaterThan(86_000);
    });
  });

  describe('presence', () => {
    const join = (member: string, at: number, limit: number) => scripts.run('presenceJoin', ['conns'], [member, at, limit, 60_000]);

    it('join counts the member and removes the oldest others past the limit, never the joining one', async () => {
      expect(await join('i1 a', 1, 2)).toEqual([]);
      expect(await join('i2 b', 2, 2)).toEqual([]);
      expect(await join('i1 c', 3, 2)).toEqual(['i1 a']);
      expect(await redis.zrange('conns', 0, -1)).toEqual(['i2 b', 'i1 c']);
      expect(await join('i1 c', 4, 1)).toEqual(['i2 b']);
      expect(await redis.zrange('conns', 0, -1)).toEqual(['i1 c']);
      expect(await redis.pttl('conns')).toBeGreaterThan(59_000);
    });
  });
  describe('webhook schedule', () => {
    const KEYS = ['due', 'records', 'claims'];

    it('enqueue keeps one record per id; claim leases due ones with a new claim; finish needs the current claim', async () => {
      expect(await scripts.run('webhookEnqueue', ['due', 'records'], ['w1', '{"id":"w1"}', 100, 1])).toBe('stored');
      expect(await scripts.run('webhookEnqueue', ['due', 'records'], ['w1', '{"id":"other"}', 50, 1])).toBe('exists');
      expect(await scripts.run('webhookEnqueue', ['due', 'records'], ['w2', '{"id":"w2"}', 50, 1])).toBe('full');
      expect(await scripts.run('webhookClaim', KEYS, [99, 1099, 10, 'c1'])).toEqual([]);
      expect(await scripts.run('webhookClaim', KEYS, [100, 1100, 10, 'c1'])).toEqual(['w1', 'c1:1', '{"id":"w1"}']);
      expect(await redis.zscore('due', 'w1')).toBe('1100');
      expect(await scripts.run('webhookClaim', KEYS, [1100, 2100, 10, 'c2'])).toEqual(['w1', 'c2:1', '{"id":"w1"}']);
      const finish = (claim: string, next: number | '') => scripts.run('webhookFinish', [...KEYS, 'log'], ['w1', claim, '{"a":1}', next, '{"id":"w1","attempts":1}', 2, 60_000]);
      expect(await finish('c1:1', '')).toBe(0);
      expect(await finish('c2:1', 5000)).toBe(1);
      expect(await redis.zscore('due', 'w1')).toBe('5000');
      expect(await redis.hget('records', 'w1')).toBe('{"id":"w1","attempts":1}');
      expect(await redis.hget('claims', 'w1')).toBeNull();
      await scripts.run('webhookClaim', KEYS, [5000, 6000, 10, 'c3']);
      expect(await finish('c3:1', '')).toBe(1);
      expect(await redis.exists('due', 'records', 'claims')).toBe(0);
      expect(await redis.lrange('log', 0, -1)).toEqual(['{"a":1}', '{"a":1}']);
      expect(await redis.pttl('log')).toBeGreaterThan(59_000);
    });

    it('claim drops a scheduled id whose record is gone', async () => {
      await redis.zadd('due', 1, 'ghost');
      expect(await scripts.run('webhookClaim', KEYS, [10, 20, 10, 'c'])).toEqual([]);
      expect(await redis.zcard('due')).toBe(0);
    });
  });

  describe('schedule', () => {
    const KEYS = ['due', 'index', 'jobs'];

    it('add, claim leases the run (same run again after the lease), complete moves the job on, the last run and cancel remove it everywhere', async () => {
      expect(await scripts.run('scheduleAdd', KEYS, ['cb1\nreminder', 1000, 2, 500, '{"j":1}'])).toBe(1);
      expect(await scripts.run('scheduleAdd', KEYS, ['cb2\nescalation:0', 1200, 1, 0, '{"j":2}'])).toBe(1);
      expect(await scripts.run('scheduleClaim', KEYS, [999, 100, 10])).toEqual([]);
      expect(await scripts.run('scheduleClaim', KEYS, [1300, 100, 10])).toEqual([['{"j":1}', 1, '1000', '1500'], ['{"j":2}', 1, '1200', '']]);
      // Leased until 1400: the score is the lease's end, the stored job unchanged.
      expect(await redis.zrange('due', 0, -1, 'WITHSCORES')).toEqual(['cb1\nreminder', '1400', 'cb2\nescalation:0', '1400']);
      expect(await redis.hget('jobs', 'cb1\nreminder')).toBe('0:2:500:1000:{"j":1}');
      expect(await scripts.run('scheduleClaim', KEYS, [1399, 100, 10])).toEqual([]);
      expect(await scripts.run('scheduleClaim', KEYS, [1400, 100, 1])).toEqual([['{"j":1}', 1, '1000', '1500']]);
      expect(await scripts.run('scheduleComplete', KEYS, ['cb1\nreminder', 1])).toBe('1500');
      expect(await scripts.run('scheduleComplete', KEYS, ['cb1\nreminder', 1])).toBe('');
      expect(await scripts.run('scheduleComplete', KEYS, ['cb1\nreminder', 2])).toBe(''); // due, not handed out
      expect(await redis.hget('jobs', 'cb1\nreminder')).toBe('1:2:500:1500:{"j":1}');
      expect(await scripts.run('scheduleComplete', KEYS, ['cb2\nescalation:0', 1])).toBe('');
      expect(await scripts.run('scheduleClaim', KEYS, [1500, 100, 10])).toEqual([['{"j":1}', 2, '1500', '']]);
      expect(await scripts.run('scheduleComplete', KEYS, ['cb1\nreminder', 2])).toBe('');
      expect(await scripts.run('scheduleComplete', KEYS, ['gone\nreminder', 1])).toBe('');
      expect([await redis.zcard('due'), await redis.zcard('index'), await redis.hlen('jobs')]).toEqual([0, 0, 0]);
      await scripts.run('scheduleAdd', KEYS, ['cb1\nreminder', 1000, 3, 500, '{"j":1}']);
      await scripts.run('scheduleAdd', KEYS, ['cb10\nreminder', 1000, 3, 500, '{"j":3}']);
      expect(await scripts.run('scheduleCancel', KEYS, ['[cb1\n', '(cb1\v'])).toBe(1);
      expect(await redis.zrange('index', 0, -1)).toEqual(['cb10\nreminder']);
      expect(await redis.hkeys('jobs')).toEqual(['cb10\nreminder']);
    });
  });
});
