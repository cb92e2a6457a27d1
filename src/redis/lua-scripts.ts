import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from './redis-connection.js';

/** What each script answers (see its file in src/redis/lua/ for what it does). */
export interface ScriptReplies {
  confirmationCreate: [kind: string, fieldsOrState?: string[] | string];
  confirmationReserve: 'present' | 'full' | 'reserved';
  confirmationRetain: string[];
  confirmationExpireIndex: null;
  confirmationForget: number;
  confirmationSettle: [kind: string, fields?: string[], waiting?: string[]];
  confirmationWatch: string[];
  confirmationIndexTaskUser: null;
  confirmationIndexApprover: null;
  confirmationVote: [kind: string, fieldsOrVotes?: string[] | string, neededOrWaiting?: number | string[]];
  confirmationAddApprovers: [kind: string, fields?: string[], users?: string, groups?: string, had?: string];
  ack: [outcome: string, record: string];
  heartbeatStart: string[];
  heartbeatBeat: string[];
  heartbeatClaim: string[];
  heartbeatStop: string[];
  brokerPublish: [offset: number, reached: number];
  historyRead: [top: string, epoch: string, entries: Array<[id: string, fields: string[]]>];
  presenceJoin: string[];
  webhookEnqueue: 'stored' | 'exists' | 'full';
  webhookClaim: string[];
  webhookFinish: number;
  scheduleAdd: number;
  scheduleClaim: Array<[json: string, run: number, dueAt: string, nextDueAt: string]>;
  scheduleComplete: string;
  scheduleCancel: number;
}

export type ScriptName = keyof ScriptReplies;

/** Each script's file and how many of its arguments are keys (all in one hash slot). */
const SCRIPTS: Record<ScriptName, { file: string; keys: number }> = {
  confirmationCreate: { file: 'confirmation-create.lua', keys: 5 },
  confirmationReserve: { file: 'confirmation-reserve.lua', keys: 1 },
  confirmationRetain: { file: 'confirmation-retain.lua', keys: 2 },
  confirmationExpireIndex: { file: 'confirmation-expire-index.lua', keys: 1 },
  confirmationForget: { file: 'confirmation-forget.lua', keys: 1 },
  confirmationSettle: { file: 'confirmation-settle.lua', keys: 3 },
  confirmationWatch: { file: 'confirmation-watch.lua', keys: 2 },
  confirmationIndexTaskUser: { file: 'confirmation-index-task-user.lua', keys: 1 },
  // The same "add to a sorted index, keep it as long as its longest-lived entry" step.
  confirmationIndexApprover: { file: 'confirmation-index-task-user.lua', keys: 1 },
  confirmationVote: { file: 'confirmation-vote.lua', keys: 3 },
  confirmationAddApprovers: { file: 'confirmation-add-approvers.lua', keys: 1 },
  ack: { file: 'ack.lua', keys: 1 },
  heartbeatStart: { file: 'heartbeat-start.lua', keys: 1 },
  heartbeatBeat: { file: 'heartbeat-beat.lua', keys: 1 },
  heartbeatClaim: { file: 'heartbeat-claim.lua', keys: 1 },
  heartbeatStop: { file: 'heartbeat-stop.lua', keys: 1 },
  brokerPublish: { file: 'broker-publish.lua', keys: 2 },
  historyRead: { file: 'history-read.lua', keys: 2 },
  presenceJoin: { file: 'presence-join.lua', keys: 1 },
  webhookEnqueue: { file: 'webhook-enqueue.lua', keys: 2 },
  webhookClaim: { file: 'webhook-claim.lua', keys: 3 },
  webhookFinish: { file: 'webhook-finish.lua', keys: 4 },
  scheduleAdd: { file: 'schedule-add.lua', keys: 3 },
  scheduleClaim: { file: 'schedule-claim.lua', keys: 3 },
  scheduleComplete: { file: 'schedule-complete.lua', keys: 3 },
  scheduleCancel: { file: 'schedule-cancel.lua', keys: 3 },
};

/** Beside this module: src/redis/lua under ts-jest, dist/redis/lua once built (the build copies them). */
export const LUA_DIR = fileURLToPath(new URL('./lua/', import.meta.url));

/** A script's source, as Redis runs it. */
export function scriptSource(name: ScriptName): string {
  return readFileSync(join(LUA_DIR, SCRIPTS[name].file), 'utf8');
}

type ScriptCommand = (...args: Array<string | number>) => Promise<unknown>;

/**
 * Every Lua script (stores, history, broker, presence, webhook schedule), read and defined once per Redis connection. ioredis sends
 * EVALSHA and falls back to EVAL when Redis answers NOSCRIPT (after a restart or a
 * failover), and routes each call by its first key in a Redis Cluster.
 */
export class LuaScripts {
  private static readonly byClient = new WeakMap<RedisClient, LuaScripts>();

  static of(client: RedisClient): LuaScripts {
    let scripts = LuaScripts.byClient.get(client);
    if (!scripts) LuaScripts.byClient.set(client, (scripts = new LuaScripts(client)));
    return scripts;
  }

  private readonly commands = new Map<ScriptName, ScriptCommand>();

  private constructor(client: RedisClient) {
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
      const command = commandName(name);
      client.defineCommand(command, { numberOfKeys: SCRIPTS[name].keys, lua: scriptSource(name) });
      // defineCommand adds a method ioredis's types cannot know of: the one cast is here.
      const method = (client as unknown as Record<string, ScriptCommand>)[command];
      this.commands.set(name, method.bind(client));
    }
  }

  run<N extends ScriptName>(name: N, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<ScriptReplies[N]> {
    if (keys.length !== SCRIPTS[name].keys) throw new Error(`Script ${name} takes ${SCRIPTS[name].keys} keys, got ${keys.length}`);
    return (this.commands.get(name) as ScriptCommand)(...keys, ...args) as Promise<ScriptReplies[N]>;
  }
}

/** The ioredis command name, apart from anything else defined on the connection. */
function commandName(name: ScriptName): string {
  return `cgwScript_${name}`;
}
