#!/usr/bin/env node
// Writes clients/js/src/protocol.ts from the service's own protocol definitions in
// src/protocol/, so the SDK cannot drift from the server: the frame interfaces, the
// client frame shapes (the validated classes, as plain interfaces), and the error and
// close code enums. Everything server-only (validation decorators, helpers, the error
// class) is left out.
//
//   node clients/js/scripts/generate-protocol.mjs           rewrite the file
//   node clients/js/scripts/generate-protocol.mjs --check   exit 1 when it is out of date
//   --protocol-dir <dir>                                    read another copy of src/protocol
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const target = resolve(here, '../src/protocol.ts');
const SOURCES = ['error-code.enum.ts', 'close-code.enum.ts', 'id.ts', 'client-frames.ts', 'server-frames.ts', 'subprotocol.ts'];

const HEADER = `// GENERATED from src/protocol/ by clients/js/scripts/generate-protocol.mjs. Do not edit:
// change src/protocol/ and run \`npm run protocol\` in clients/js (a test fails until you do).
`;

/** The declarations of the protocol files, as tsc emits them, reduced to what a client needs. */
export function generateProtocol(protocolDir) {
  const sections = SOURCES.map((name) => {
    // Declarations per file, without a type-checking program: every export in
    // src/protocol/ has an explicit type, so nothing needs inferring.
    const { outputText, diagnostics } = ts.transpileDeclaration(readFileSync(join(protocolDir, name), 'utf8'), {
      fileName: name,
      compilerOptions: { experimentalDecorators: true, module: ts.ModuleKind.NodeNext, target: ts.ScriptTarget.ES2023 },
      reportDiagnostics: true,
    });
    if (diagnostics?.length) {
      const messages = diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      throw new Error(`src/protocol/${name} needs explicit types on its exports:\n${messages.join('\n')}`);
    }
    return `// --- from src/protocol/${name} ---\n\n${clientPart(outputText)}`;
  });
  return `${HEADER}\n${sections.join('\n')}`;
}

function clientPart(declarations) {
  const source = ts.createSourceFile('protocol.d.ts', declarations, ts.ScriptTarget.ES2023, true);
  const kept = [];
  for (const statement of source.statements) {
    const text = statement.getFullText(source).replace(/^\s*\n/, '');
    if (!isExported(statement)) continue;
    if (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) kept.push(text);
    else if (ts.isEnumDeclaration(statement)) kept.push(text.replace('export declare enum', 'export enum'));
    else if (ts.isVariableStatement(statement)) kept.push(text.replace('export declare const', 'export const'));
    else if (ts.isClassDeclaration(statement) && isPlainShape(statement)) kept.push(text.replace('export declare class', 'export interface'));
  }
  return kept.map((text) => `${text.trimEnd()}\n`).join('\n');
}

function isExported(statement) {
  return ts.canHaveModifiers(statement) && (ts.getModifiers(statement) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}

/** A frame class: properties only, no base class. Anything else is server behaviour. */
function isPlainShape(declaration) {
  return !declaration.heritageClauses && declaration.members.every((member) => ts.isPropertyDeclaration(member));
}

function main(args) {
  const dirFlag = args.indexOf('--protocol-dir');
  const protocolDir = dirFlag >= 0 ? resolve(args[dirFlag + 1]) : join(repoRoot, 'src/protocol');
  const generated = generateProtocol(protocolDir);
  if (!args.includes('--check')) {
    writeFileSync(target, generated);
    console.log(`wrote ${target}`);
    return;
  }
  const current = readFileSync(target, 'utf8');
  if (current === generated) {
    console.log('clients/js/src/protocol.ts matches src/protocol/');
    return;
  }
  console.error('clients/js/src/protocol.ts differs from what src/protocol/ generates: run `npm run protocol` in clients/js');
  process.exitCode = 1;
}

main(process.argv.slice(2));
