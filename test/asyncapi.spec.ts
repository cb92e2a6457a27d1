import { beforeAll, describe, expect, it } from '@jest/globals';
import { Parser } from '@asyncapi/parser';
import { MESSAGE_METADATA } from '@nestjs/websockets/constants.js';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { AckService } from '../src/acks/ack.service.js';
import { TaskGateway } from '../src/gateway/task.gateway.js';
import { OFFSET_FIELD } from '../src/history/history.store.js';
import { ClientAction } from '../src/protocol/client-frames.js';
import { CloseCode } from '../src/protocol/close-code.enum.js';
import { isDescribedDto, schemaOf } from '../src/protocol/dto-schema.js';
import { ErrorCode } from '../src/protocol/error-code.enum.js';

/**
 * docs/asyncapi.yaml against src/protocol/, both ways: every client action and its fields
 * (from the DTOs the gateway validates with), every server frame and its fields (from the
 * interfaces in server-frames.ts), the error codes, the close codes and the replies; the
 * shared streamPosition and ackRequest schemas (from StreamOffsets / AckRequestFields, the
 * history's offset fields and what AckService adds) and the upgrade URL's query parameters
 * (from the `searchParams` reads in src/gateway and src/auth).
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
type Schema = Record<string, any>;
interface Message {
  id: string;
  payload: Schema;
}

let document: any;
let messages: Message[];
const constOf = (payload: Schema, field: string): string | undefined => payload.properties?.[field]?.const;

/** A payload with the properties and required fields of its allOf parts (the shared schemas) merged in. */
function flatten(schema: Schema): Schema {
  const parts = [schema, ...(schema.allOf ?? []).map(flatten)];
  const properties = Object.assign({}, ...parts.map((part) => part.properties ?? {}));
  const required = [...new Set(parts.flatMap((part) => part.required ?? []))];
  const { allOf: _allOf, ...own } = schema;
  return { ...own, properties, ...(required.length ? { required } : {}) };
}

/** The types a schema allows, null aside, whether it says so with `type` or `anyOf`. */
function typesOf(schema: Schema): string[] {
  if (schema.anyOf) return [...new Set<string>(schema.anyOf.flatMap(typesOf))].sort();
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  return types.filter((t: string) => t !== 'null').sort();
}

/** The rules of a property that both sides state: types, bounds and pattern. */
function rulesOf(schema: Schema): Schema {
  const own = schema.anyOf ? schema.anyOf.find((s: Schema) => s.type !== 'null') : schema;
  const pick = (key: string) => (own?.[key] === undefined ? {} : { [key]: own[key] });
  return { types: typesOf(schema), ...pick('minLength'), ...pick('maxLength'), ...pick('minimum'), ...pick('maximum'), ...pick('pattern') };
}

/** The frame DTO of each action, as the gateway's handlers declare them. */
function actionDtos(): Map<string, Function | undefined> {
  const dtos = new Map<string, Function | undefined>();
  for (const method of Object.getOwnPropertyNames(TaskGateway.prototype)) {
    const handler = (TaskGateway.prototype as any)[method];
    const action = typeof handler === 'function' ? Reflect.getMetadata(MESSAGE_METADATA, handler) : undefined;
    if (typeof action !== 'string') continue;
    const types = (Reflect.getMetadata('design:paramtypes', TaskGateway.prototype, method) ?? []) as Function[];
    dtos.set(action, types.find(isDescribedDto));
  }
  return dtos;
}

const parse = (file: string) => ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2023, true);
const serverFramesSource = parse(join(root, 'src/protocol/server-frames.ts'));

function serverFrameInterface(name: string): ts.InterfaceDeclaration {
  let found: ts.InterfaceDeclaration | undefined;
  serverFramesSource.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === name) found = node;
  });
  if (!found) throw new Error(`no interface ${name} in server-frames.ts`);
  return found;
}

/** The interfaces an interface of server-frames.ts extends, by name. */
function basesOf(name: string): string[] {
  const clauses = serverFrameInterface(name).heritageClauses ?? [];
  return clauses.flatMap((clause) => clause.types.map((type) => type.expression.getText(serverFramesSource)));
}

/** An interface's members, those of the interfaces it extends included: name -> whether it is optional. */
function fieldsOf(name: string): Map<string, boolean> {
  const fields = new Map<string, boolean>();
  for (const base of basesOf(name)) for (const [field, optional] of fieldsOf(base)) fields.set(field, optional);
  for (const field of serverFrameInterface(name).members) {
    if (ts.isPropertySignature(field)) fields.set(field.name.getText(serverFramesSource), field.questionToken !== undefined);
  }
  return fields;
}

/** Each frame interface listed in an interface of server-frames.ts: type -> the interface's name. */
function framesIn(listName: string): Map<string, string> {
  const frames = new Map<string, string>();
  for (const member of serverFrameInterface(listName).members) {
    if (!ts.isPropertySignature(member) || !member.type || !ts.isTypeReferenceNode(member.type)) continue;
    frames.set(member.name.getText(serverFramesSource), member.type.typeName.getText(serverFramesSource));
  }
  return frames;
}

/** The shared schemas of the document and the interfaces of server-frames.ts they stand for. */
const SHARED = { StreamOffsets: 'streamPosition', AckRequestFields: 'ackRequest' } as const;

/**
 * The query parameters the upgrade handling reads: the names given to `searchParams.get`
 * (`getAll`, `has`) in src/gateway and src/auth, a helper's parameter traced to the string
 * its callers pass. Anything else given to it fails, rather than going unlisted.
 */
function upgradeQueryParameters(): string[] {
  const names = new Set<string>();
  for (const dir of ['src/gateway', 'src/auth']) {
    for (const entry of readdirSync(join(root, dir))) {
      if (!entry.endsWith('.ts') || entry.endsWith('.spec.ts')) continue;
      const source = parse(join(root, dir, entry));
      const all: ts.Node[] = [];
      const collect = (node: ts.Node) => {
        all.push(node);
        ts.forEachChild(node, collect);
      };
      collect(source);
      const holders = new Set(
        all
          .filter(ts.isVariableDeclaration)
          .filter((d) => ts.isIdentifier(d.name) && d.initializer && ts.isPropertyAccessExpression(d.initializer) && d.initializer.name.text === 'searchParams')
          .map((d) => (d.name as ts.Identifier).text),
      );
      const isParams = (e: ts.Expression) => (ts.isPropertyAccessExpression(e) ? e.name.text === 'searchParams' : ts.isIdentifier(e) && holders.has(e.text));
      const where = (node: ts.Node) => `${dir}/${entry}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
      const namesOf = (arg: ts.Expression): string[] => {
        if (ts.isStringLiteralLike(arg)) return [arg.text];
        // A parameter of the enclosing helper: the strings its callers pass in that place.
        let fn: ts.Node | undefined = arg.parent;
        while (fn && !ts.isFunctionLike(fn)) fn = fn.parent;
        const index = fn && ts.isIdentifier(arg) ? (fn as ts.SignatureDeclaration).parameters.findIndex((p) => p.name.getText(source) === arg.text) : -1;
        const owner = fn?.parent;
        const helper = fn && ts.isFunctionDeclaration(fn) ? fn.name?.text : owner && ts.isVariableDeclaration(owner) ? owner.name.getText(source) : undefined;
        if (index < 0 || !helper) throw new Error(`${where(arg)}: cannot tell which query parameter ${arg.getText(source)} names`);
        const calls = all.filter((n): n is ts.CallExpression => ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === helper);
        if (calls.length === 0) throw new Error(`${where(arg)}: ${helper} is never called`);
        return calls.flatMap((call) => namesOf(call.arguments[index]));
      };
      for (const node of all) {
        if (!ts.isCallExpression(node) || !ts.isPropertyAccessExpression(node.expression)) continue;
        if (!['get', 'getAll', 'has'].includes(node.expression.name.text) || !isParams(node.expression.expression)) continue;
        for (const name of namesOf(node.arguments[0])) names.add(name);
      }
    }
  }
  return [...names].sort();
}

/** The fields AckService adds to a caller's message it sends with requires_ack. */
async function fieldsAckServiceAdds(): Promise<Schema> {
  let sent: Schema = {};
  const config = { get: () => 300 };
  const store = { create: async () => undefined };
  const delivery = { deliver: async (_audience: unknown, frame: Schema) => ((sent = frame), 1) };
  const service = new AckService(config as any, store as any, delivery as any, {} as any, {} as any, { hasPeers: false } as any);
  await service.send({ userId: 'alice' }, { type: 'personal_notification', message: 'hi' }, 60);
  const { type: _type, message: _message, ...added } = sent;
  return added;
}

describe('docs/asyncapi.yaml', () => {
  beforeAll(async () => {
    const { document: parsed, diagnostics } = await new Parser().parse(readFileSync(join(root, 'docs/asyncapi.yaml'), 'utf8'));
    const errors = diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join('.')}: ${d.message}`);
    expect(errors).toEqual([]);
    document = parsed;
    messages = parsed!.allMessages().all().map((m) => ({ id: m.id(), payload: flatten(m.payload()?.json() ?? {}) }));
  }, 120_000);

  it('is an AsyncAPI 3 document', () => {
    expect(document.version()).toMatch(/^3\./);
  });

  it('has a message for every client action, and no action the gateway does not handle', () => {
    const documented = messages.map((m) => constOf(m.payload, 'action')).filter(Boolean).sort();
    expect(documented).toEqual(Object.values(ClientAction).sort());
    expect([...actionDtos().keys()].sort()).toEqual(Object.values(ClientAction).sort());
  });

  it('gives every client action the fields, required fields and rules of its DTO', () => {
    for (const [action, dto] of actionDtos()) {
      const payload = messages.find((m) => constOf(m.payload, 'action') === action)!.payload;
      const { action: _action, ...documented } = payload.properties;
      if (!dto) {
        expect([action, payload.additionalProperties]).toEqual([action, true]); // ping: anything goes
        continue;
      }
      const derived = schemaOf(dto, { ref: (d) => d.name }) as Schema;
      expect([action, Object.keys(documented).sort()]).toEqual([action, Object.keys(derived.properties).sort()]);
      expect([action, (payload.required ?? []).filter((f: string) => f !== 'action').sort()]).toEqual([action, [...(derived.required ?? [])].sort()]);
      for (const [field, schema] of Object.entries(derived.properties)) {
        expect([action, field, rulesOf(documented[field])]).toEqual([action, field, rulesOf(schema as Schema)]);
      }
    }
  });

  it('has a message for every server frame and conventional pushed frame, with exactly their fields', () => {
    const frames = new Map([...framesIn('ServerFrames'), ...framesIn('ConventionalFrames')]);
    const documented = messages.filter((m) => constOf(m.payload, 'type'));
    expect(documented.map((m) => constOf(m.payload, 'type')).sort()).toEqual([...frames.keys()].sort());
    for (const { payload } of documented) {
      const type = constOf(payload, 'type') as string;
      const fields = fieldsOf(frames.get(type)!);
      expect([type, Object.keys(payload.properties).sort()]).toEqual([type, [...fields.keys()].sort()]);
      const required = [...fields].filter(([, optional]) => !optional).map(([name]) => name);
      expect([type, [...(payload.required ?? [])].sort()]).toEqual([type, required.sort()]);
    }
  });

  it('lists exactly the error codes of the ErrorCode enum', () => {
    const error = messages.find((m) => constOf(m.payload, 'type') === 'error')!;
    expect([...error.payload.properties.code.enum].sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it('lists exactly the close codes of the CloseCode enum', () => {
    const documented = Object.keys(document.channels().get('socket').json()['x-close-codes']).map(Number).sort();
    const codes = Object.values(CloseCode).filter((v): v is number => typeof v === 'number').sort();
    expect(documented).toEqual(codes);
  });

  it('pairs every client action with its replies: confirm -> confirmation_accepted or error', () => {
    const replies = new Map<string, string[]>();
    for (const operation of document.operations().all()) {
      if (operation.action() !== 'send') continue;
      const [sent] = operation.messages().all().map((m: any) => constOf(m.payload().json(), 'action'));
      replies.set(sent, operation.reply()?.messages().all().map((m: any) => constOf(m.payload().json(), 'type')) ?? []);
    }
    expect([...replies.keys()].sort()).toEqual(Object.values(ClientAction).sort());
    expect(replies.get('confirm')).toEqual(['confirmation_accepted', 'error']);
    expect(replies.get('ping')).toEqual(['pong']);
    for (const [action, types] of replies) expect([action, types.length > 0]).toEqual([action, true]);
  });
  it('has streamPosition with exactly the fields of StreamOffsets, the ones the history sets', () => {
    const schema = document.components().schemas().get('streamPosition').json();
    const fields = fieldsOf('StreamOffsets');
    expect(Object.keys(schema.properties).sort()).toEqual([...fields.keys()].sort());
    expect(Object.keys(schema.properties).sort()).toEqual(Object.values(OFFSET_FIELD).sort());
    expect([...fields.values()].every(Boolean)).toBe(true); // all optional: absent with history off
    expect(schema.required ?? []).toEqual([]);
    for (const [field, property] of Object.entries<Schema>(schema.properties)) expect([field, property.type]).toEqual([field, 'integer']);
  });

  it('has ackRequest with exactly the fields of AckRequestFields, the ones AckService adds', async () => {
    const schema = document.components().schemas().get('ackRequest').json();
    const fields = fieldsOf('AckRequestFields');
    expect(Object.keys(schema.properties).sort()).toEqual([...fields.keys()].sort());
    expect(schema.required ?? []).toEqual([]);
    const added = await fieldsAckServiceAdds();
    expect(Object.keys(added).sort()).toEqual(Object.keys(schema.properties).sort());
    expect(schema.properties.requires_ack.type).toBe('boolean');
    expect(added.requires_ack).toBe(true);
    // What the ack action takes is what the message carries.
    const ack = messages.find((m) => constOf(m.payload, 'action') === 'ack')!.payload;
    expect(Object.keys(ack.properties).filter((f) => f !== 'action')).toEqual(['message_id']);
  });

  it('references the shared schemas from exactly the frames whose interface extends them, copying none of their fields', () => {
    const frames = new Map([...framesIn('ServerFrames'), ...framesIn('ConventionalFrames')]);
    for (const message of document.allMessages().all()) {
      const payload = message.payload();
      const type = payload.json().properties?.type?.const;
      if (!type) continue;
      const referenced = (payload.allOf() ?? []).map((part: any) => part.id()).sort();
      const expected = basesOf(frames.get(type)!).map((base) => SHARED[base as keyof typeof SHARED] ?? `(no shared schema for ${base})`).sort();
      expect([type, referenced]).toEqual([type, expected]);
      for (const id of referenced) {
        const shared = Object.keys(document.components().schemas().get(id).json().properties);
        expect([type, id, shared.filter((f) => f in (payload.json().properties ?? {}))]).toEqual([type, id, []]);
      }
    }
  });

  it('lists in the upgrade binding exactly the query parameters the server reads', () => {
    const query = document.channels().get('socket').json().bindings.ws.query.properties;
    const read = upgradeQueryParameters();
    expect(read).toEqual(expect.arrayContaining(['user_id', 'token', 'epoch', 'offset']));
    expect(Object.keys(query).sort()).toEqual(read);
  });

  it('hands out in connected the stream positions that resume and the upgrade URL take', () => {
    const resume = Object.keys(messages.find((m) => constOf(m.payload, 'action') === 'resume')!.payload.properties).filter((f) => f !== 'action');
    const connected = Object.keys(messages.find((m) => constOf(m.payload, 'type') === 'connected')!.payload.properties);
    const query = Object.keys(document.channels().get('socket').json().bindings.ws.query.properties);
    expect(resume.sort()).toEqual(['broadcast_epoch', 'broadcast_offset', 'epoch', 'offset']);
    expect(connected).toEqual(expect.arrayContaining(resume));
    expect(query).toEqual(expect.arrayContaining(resume));
  });
});
