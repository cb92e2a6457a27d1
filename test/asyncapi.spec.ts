import { beforeAll, describe, expect, it } from '@jest/globals';
import { Parser } from '@asyncapi/parser';
import { MESSAGE_METADATA } from '@nestjs/websockets/constants.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { TaskGateway } from '../src/gateway/task.gateway.js';
import { ClientAction } from '../src/protocol/client-frames.js';
import { CloseCode } from '../src/protocol/close-code.enum.js';
import { isDescribedDto, schemaOf } from '../src/protocol/dto-schema.js';
import { ErrorCode } from '../src/protocol/error-code.enum.js';

/**
 * docs/asyncapi.yaml against src/protocol/, both ways: every client action and its fields
 * (from the DTOs the gateway validates with), every server frame and its fields (from the
 * interfaces in server-frames.ts), the error codes, the close codes and the replies.
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
});
