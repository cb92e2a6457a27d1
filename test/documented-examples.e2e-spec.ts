import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { BuiltService, startBuiltService } from './support/built-service.js';
import { locateProgram } from './support/system-dependency.js';
import { TestClient } from './support/test-client.js';

/**
 * Every example of the READMEs and docs/PROTOCOL.md, taken from their code blocks as they
 * stand (nothing copied here), run against the built service started with the README's
 * defaults (`npm start`: memory mode, no API keys, AUTH_MODE=none) on a free port. Only the
 * host and port are replaced. Shell examples run in bash with the real curl; each curl
 * invocation is recorded (its stdout, and its status from a header dump the recorder adds)
 * and checked against the output the document prints under it (`# 200 {…}`, `# 204`): the
 * same status, the same fields of the same types. Users are played by real ws clients:
 * alice answers each prompt with Proceed and "go on", as the documents do, and acknowledges
 * what asks for it. Python examples run with python3 on clients/python/src, the
 * JavaScript SDK's example with node on the built SDK.
 */

const DOCUMENTS = ['README.md', 'clients/js/README.md', 'clients/python/README.md', 'docs/PROTOCOL.md'];
const DOCUMENTED_HOST = 'localhost:8765';

/** Shell blocks that set up, build or deploy rather than talk to a running service, and why they are not run here. */
const NOT_RUN: Record<string, string> = {
  'README.md: npm ci && npm start': 'what this test does: dist/ is built, and started as npm start would',
  'README.md: docker compose up --build -d': 'needs Docker; test/nginx-cluster.e2e-spec.ts runs the same topology without it',
  'clients/js/README.md: npm run build': 'the build itself, run before the e2e tests',
  'clients/python/README.md: python3 -m venv .venv && . .venv/bin/activate && pip install ./clients/python':
    'downloads the build backend from PyPI; clients/python/tests/test_packaging.py builds the wheel offline',
  'clients/python/README.md: npm run build && npm run test:python': 'the Python client tests, run by npm test',
};

/**
 * What happened before an example that the example's own output shows but its code does
 * not do, played here by the users: §8.4's task-c was cancelled by dave from his socket.
 */
const SCENES: Record<string, (service: BuiltService) => Promise<void>> = {
  'docs/PROTOCOL.md: curl -sS "$GW/tasks/task-c" -H "$AUTH"': async (service) => {
    const dave = await TestClient.open(`${service.wsUrl}/?user_id=dave`);
    await post(service, '/notify?wait=false', notifyBody('dave', 'task-c'));
    dave.send({ action: 'cancel', task_id: 'task-c' });
    await dave.next('task_cancelled');
    dave.socket.close();
  },
};

interface Block {
  file: string;
  line: number;
  lang: string;
  text: string;
}

/** Fenced code blocks, indented ones (inside list items) included, with their indentation removed. */
function codeBlocks(file: string): Block[] {
  const blocks: Block[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, lang] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]); j++) body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
    blocks.push({ file, line: i + 1, lang, text: body.join('\n') });
    i = j;
  }
  return blocks;
}

const firstLine = (block: Block) => block.text.split('\n').find((line) => line.trim() && !line.trim().startsWith('#'))!.trim();
const nameOf = (block: Block) => `${block.file}: ${firstLine(block).replace(/\s+#.*$/, '')}`;
const allBlocks = DOCUMENTS.flatMap(codeBlocks);
const shellBlocks = allBlocks.filter((block) => ['sh', 'bash', 'shell'].includes(block.lang));
const curlBlocks = shellBlocks.filter((block) => !(nameOf(block) in NOT_RUN));

/** One curl command of a block and the output the document shows for it, if any. */
interface Expected {
  command: string;
  output?: string;
}

/**
 * The curl commands of a block in order, each with the output printed after it: a comment
 * on its own last line (`… # 204`), or comment lines below it that start with a status or
 * a JSON value (`# 200 {…}`, continued by `#      …`). Other comments are prose.
 */
function expectedOf(block: Block): Expected[] {
  const expected: Expected[] = [];
  let continuing = false;
  for (const line of block.text.split('\n')) {
    const trimmed = line.trim();
    if (/(^|\$\()curl\s/.test(trimmed)) {
      const trailing = /\s#\s+(\d{3})\s*$/.exec(trimmed);
      expected.push({ command: trimmed, output: trailing?.[1] });
      continuing = false;
      continue;
    }
    const output = /^#\s((?:\d{3}\s+)?[{[].*|\d{3})$/.exec(trimmed);
    if (output && expected.length > 0) {
      expected[expected.length - 1].output = output[1];
      continuing = true;
    } else if (continuing && /^#\s{2,}\S/.test(trimmed)) {
      expected[expected.length - 1].output += trimmed.slice(1).trim();
    } else {
      continuing = false;
    }
  }
  return expected;
}

/** Fields whose value is a map keyed by a reason or an error code (`GET /status`): an example shows some keys, not all. */
const MAPS = new Set(['$.refused_connections', '$.error_frames']);

/** Differences between a documented JSON value and the real one: the same fields (recursively) and, where both are set, the same types. */
function shapeDifferences(documented: unknown, actual: unknown, path = '$'): string[] {
  if (documented === null || actual === null) return [];
  if (MAPS.has(path)) return typeof actual === 'object' && Object.values(actual as object).every((count) => typeof count === 'number') ? [] : [`${path}: not a map of counts`];
  const kind = (value: unknown) => (Array.isArray(value) ? 'array' : typeof value);
  if (kind(documented) !== kind(actual)) return [`${path}: documented ${kind(documented)}, got ${JSON.stringify(actual)}`];
  if (Array.isArray(documented) && Array.isArray(actual)) {
    return documented.length > 0 && actual.length > 0 ? shapeDifferences(documented[0], actual[0], `${path}[0]`) : [];
  }
  if (kind(documented) !== 'object') return [];
  const [doc, real] = [documented as Record<string, unknown>, actual as Record<string, unknown>];
  const missing = Object.keys(doc).filter((key) => !(key in real)).map((key) => `${path}.${key}: documented, not answered`);
  const extra = Object.keys(real).filter((key) => !(key in doc)).map((key) => `${path}.${key}: answered, not documented`);
  return [...missing, ...extra, ...Object.keys(doc).filter((key) => key in real).flatMap((key) => shapeDifferences(doc[key], real[key], `${path}.${key}`))];
}

/** A documented output with `…` and `"…"` placeholders, read as JSON. */
function parseDocumented(text: string): unknown {
  return JSON.parse(text.replace(/"([^"]*)…([^"]*)"/g, '"$1$2"').replace(/:\s*…/g, ':"x"'));
}

interface Invocation {
  status: number | null;
  exitCode: number;
  stdout: string;
}

let service: BuiltService;
let host: string;
let work: string;
let curlLog: string;
let alice: TestClient;
const answered: string[] = [];
let answering = true;
const curl = locateProgram('curl', 'curl');

/**
 * A `curl` first on PATH that runs the real one with the example's arguments, adding only
 * `-D` (the response headers, to a file) so the status is known, and a copy of its stdout.
 */
function installCurlRecorder(): string {
  const bin = join(work, 'bin');
  mkdirSync(bin);
  curlLog = join(work, 'curl');
  mkdirSync(curlLog);
  writeFileSync(
    join(bin, 'curl'),
    [
      '#!/usr/bin/env bash',
      'set -o pipefail',
      `log=${JSON.stringify(curlLog)}`,
      'n=$(ls "$log" | grep -c "\\.out$")',
      'n=$(printf "%04d" $((n + 1)))',
      `${JSON.stringify(curl)} -D "$log/$n.headers" "$@" | tee "$log/$n.out"`,
      'code=$?',
      'echo "$code" > "$log/$n.exit"',
      'exit "$code"',
      '',
    ].join('\n'),
  );
  chmodSync(join(bin, 'curl'), 0o755);
  return bin;
}

/** The invocations recorded since the last call, oldest first. */
function takeInvocations(): Invocation[] {
  const names = readdirSync(curlLog).filter((name) => name.endsWith('.out')).sort();
  const invocations = names.map((name) => {
    const base = join(curlLog, name.replace(/\.out$/, ''));
    const headers = readFileSync(`${base}.headers`, 'utf8');
    const statuses = [...headers.matchAll(/^HTTP\/[\d.]+ (\d{3})/gm)].map((match) => Number(match[1]));
    return { status: statuses.at(-1) ?? null, exitCode: Number(readFileSync(`${base}.exit`, 'utf8')), stdout: readFileSync(`${base}.out`, 'utf8') };
  });
  for (const name of readdirSync(curlLog)) rmSync(join(curlLog, name));
  return invocations;
}

function run(command: string, args: string[], input: string, env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { env, cwd: resolve('.'), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

async function post(target: BuiltService, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(target.baseUrl + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

function notifyBody(userId: string, taskId: string) {
  return { user_id: userId, task_id: taskId, step: 1, step_result: { step: 'check', message: 'Continue?', status: 'completed' } };
}

/** alice's tabs, as the documents' outputs assume: every prompt answered with Proceed and "go on", every requires_ack message acknowledged. */
async function connectAlice(): Promise<TestClient> {
  const client = await TestClient.open(`${service.wsUrl}/?user_id=alice`);
  client.socket.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    if (frame.type === 'task_step_result' && answering) {
      answered.push(frame.callback_id);
      client.send({ action: 'confirm', callback_id: frame.callback_id, proceed: true, feedback: 'go on' });
    }
    if (frame.requires_ack === true && frame.message_id) client.send({ action: 'ack', message_id: frame.message_id });
  });
  return client;
}

function python(): string | null {
  const needs = 'import sys, httpx; sys.exit(sys.version_info < (3, 9))';
  for (const candidate of [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[]) {
    try {
      execFileSync(candidate, ['-c', needs], { stdio: 'ignore' });
      return candidate;
    } catch {
      // not this one
    }
  }
  const message = 'no Python 3.9+ with httpx (apt-get install python3-httpx)';
  if (process.env.CI === 'true') throw new Error(`${message} (required under CI)`);
  process.stderr.write(`\n*** SKIPPING the Python README examples: ${message} ***\n\n`);
  return null;
}

const maybe = curl ? describe : describe.skip;

maybe('Documented examples run as written (e2e)', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'documented-examples-'));
    service = await startBuiltService({});
    host = new URL(service.baseUrl).host;
    alice = await connectAlice();
  }, 60_000);

  afterAll(async () => {
    alice?.socket.close();
    await service?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('finds the examples, and each shell block is either run or named as set-up with a reason', () => {
    expect(curlBlocks.length).toBeGreaterThanOrEqual(15);
    for (const file of DOCUMENTS.filter((file) => file !== 'clients/js/README.md')) {
      expect(curlBlocks.some((block) => block.file === file) || file === 'clients/python/README.md').toBe(true);
    }
    const notRun = shellBlocks.filter((block) => nameOf(block) in NOT_RUN).map(nameOf);
    expect(notRun.sort()).toEqual(Object.keys(NOT_RUN).sort());
    for (const block of curlBlocks) expect(`${nameOf(block)}: ${block.text}`).toMatch(/curl /);
    for (const scene of Object.keys(SCENES)) expect(curlBlocks.map(nameOf)).toContain(scene);
  });

  it('runs every curl example with the real curl, each answering what its document shows', async () => {
    const bin = installCurlRecorder();
    const failures: string[] = [];
    for (const block of curlBlocks) {
      await SCENES[nameOf(block)]?.(service);
      const prose = readFileSync(block.file, 'utf8');
      // PROTOCOL.md states its examples' variables in its text: "use `GW=…` and `AUTH=…`".
      const variables = [...prose.matchAll(/`((?:GW|AUTH)=[^`]+)`/g)].map((match) => match[1]);
      const script = [...variables, block.text].join('\n').replaceAll(DOCUMENTED_HOST, host);
      const result = await run('bash', ['-c', script], '', { ...process.env, PATH: `${bin}:${process.env.PATH}` });
      const invocations = takeInvocations();
      const expected = expectedOf(block);
      const at = `${block.file}:${block.line} (${firstLine(block).slice(0, 70)})`;
      if (result.code !== 0) failures.push(`${at}: exit ${result.code}: ${result.stderr}`);
      if (invocations.length !== expected.length) {
        failures.push(`${at}: ${expected.length} curl commands written, ${invocations.length} run`);
        continue;
      }
      invocations.forEach((invocation, index) => {
        const { command, output } = expected[index];
        const where = `${at}, command ${index + 1} (${command.slice(0, 60)})`;
        if (invocation.exitCode !== 0 || invocation.status === null || invocation.status >= 400) {
          failures.push(`${where}: curl exit ${invocation.exitCode}, HTTP ${invocation.status}: ${invocation.stdout.slice(0, 300)}`);
          return;
        }
        if (output === undefined) return;
        const documented = /^(?:(\d{3})\s*)?(.*)$/s.exec(output)!;
        if (documented[1] && documented[2] === '') {
          if (invocation.stdout.trim() !== documented[1]) failures.push(`${where}: documented ${documented[1]}, printed ${invocation.stdout.trim()}`);
          return;
        }
        if (documented[1] && Number(documented[1]) !== invocation.status) failures.push(`${where}: documented ${documented[1]}, answered ${invocation.status}`);
        const differences = shapeDifferences(parseDocumented(documented[2]), JSON.parse(invocation.stdout));
        if (differences.length > 0) failures.push(`${where}: ${differences.join('; ')}`);
      });
    }
    expect(failures).toEqual([]);
    // The walk-through's and PROTOCOL's prompts waited for alice, and she answered them.
    expect(answered).toEqual(expect.arrayContaining(['job-42.step-3', 't1-step2']));
  }, 180_000);

  it("prints the walk-through's decision as the README describes it", async () => {
    const readme = readFileSync('README.md', 'utf8');
    const walkThrough = curlBlocks.find((block) => block.file === 'README.md' && block.text.includes('"task_id": "task-456"'))!;
    const described = /curl returns\s+`(\{[^`]+\})`/.exec(readme)![1];
    const result = await run('bash', ['-c', walkThrough.text.replaceAll(DOCUMENTED_HOST, host)], '', process.env);
    const decision = JSON.parse(result.stdout);
    expect(shapeDifferences(parseDocumented(described.replace('"<your note>"', '"note"')), decision)).toEqual([]);
    expect(decision).toMatchObject({ state: 'confirmed', proceed: true, feedback: 'go on', timed_out: false, cancelled: false });
  }, 60_000);

  describe('the Python client README', () => {
    const interpreter = python();
    const pythonBlocks = codeBlocks('clients/python/README.md').filter((block) => block.lang === 'python');
    const env = () => ({
      ...process.env,
      PYTHONPATH: resolve('clients/python/src'),
      PYTHONDONTWRITEBYTECODE: '1',
      CONFIRMATION_GATEWAY_URL: `http://${DOCUMENTED_HOST}`.replace(DOCUMENTED_HOST, host),
    });

    // The approvals examples (a quorum with a form; requires_confirmation) need approvers who
    // pick an option and fill a form, not alice's Proceed: clients/python/tests/test_approvals.py
    // makes the same calls against the real service, answered by real WebSocket users.
    it('has the asyncio example, the Celery one, and the two approvals examples', () => {
      expect(pythonBlocks.map(firstLine)).toEqual([
        'import asyncio',
        'from confirmation_gateway import GatewayClient',
        'from confirmation_gateway import GatewayClient, Option, Reminders, TaskStepResult',
        'import enum',
      ]);
    });

    (interpreter ? it : it.skip)('runs the asyncio example as written: alice is asked and her answer printed', async () => {
      const example = pythonBlocks[0].text.replaceAll(DOCUMENTED_HOST, host);
      const before = answered.length;
      const result = await run(interpreter!, ['-'], example, env());
      expect(result.stderr).toBe('');
      expect(result).toMatchObject({ code: 0, stdout: 'proceed go on\n' });
      expect(answered.length).toBe(before + 1);
    }, 60_000);

    // A Celery task needs a Celery app and the task's own steps: given here as the least that
    // lets the block run (`app.task` registers the function; the task is then called).
    (interpreter ? it : it.skip)('runs the Celery example with a stand-in app, the gateway found through CONFIRMATION_GATEWAY_URL', async () => {
      const standIns = [
        'from confirmation_gateway import TaskStepResult',
        'class App:',
        '    def task(self, function):',
        '        return function',
        'app = App()',
        'steps = []',
        'def run_validation():',
        '    return TaskStepResult(step="data_validation", message="5 rows failed validation. Continue?", status="completed", completed=True, result={"errors": 5})',
        'def run_next_step():',
        '    steps.append("next")',
      ].join('\n');
      const call = '\nprint(validate("task-789", "alice"), steps)\n';
      const result = await run(interpreter!, ['-'], `${standIns}\n${pythonBlocks[1].text}${call}`, env());
      expect(result.stderr).toBe('');
      expect(result).toMatchObject({ code: 0, stdout: "None ['next']\n" });
    }, 60_000);
  });

  describe('the Python client README, approvals', () => {
    const interpreter = python();
    const [, , quorum, decorator] = codeBlocks('clients/python/README.md').filter((block) => block.lang === 'python');
    const env = () => ({ ...process.env, PYTHONPATH: resolve('clients/python/src'), PYTHONDONTWRITEBYTECODE: '1' });

    // Run in full, the quorum example would wait for approvers who fill the form
    // (clients/python/tests/test_approvals.py does that); here it must at least compile.
    (interpreter ? it : it.skip)('compiles the quorum example, and the decorator example decorates its function as written', async () => {
      const compiled = await run(interpreter!, ['-c', 'import sys; compile(sys.stdin.read(), "quorum", "exec")'], quorum.text, env());
      expect(compiled).toMatchObject({ code: 0, stderr: '' });
      const check = '\nimport json\nprint(json.dumps(scale.confirmation_form.schema({"service": "api", "replicas": 4, "region": Region.US})))\n';
      const result = await run(interpreter!, ['-'], `${decorator.text}${check}`, env());
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toEqual({
        type: 'object',
        properties: {
          service: { title: 'Service', type: 'string', default: 'api' },
          replicas: { title: 'Replicas', type: 'integer', minimum: 1, maximum: 20, default: 4 },
          region: { title: 'Region', type: 'string', enum: ['eu', 'us'], default: 'us' },
        },
        required: ['service', 'replicas', 'region'],
      });
    }, 60_000);
  });

  it("runs examples/answer-client.mjs as the README starts it, answering alice's prompt from its standard input", async () => {
    const command = /`(node examples\/answer-client\.mjs [^`]+)`/.exec(readFileSync('README.md', 'utf8'))![1];
    // The script's usage line names its default URL: only its host and port change.
    const usage = /\[(ws:\/\/localhost:8765\/ws)\]/.exec(readFileSync('examples/answer-client.mjs', 'utf8'))![1];
    const [, script, ...args] = command.split(/\s+/);
    answering = false;
    const child = spawn(process.execPath, [script, ...args, usage.replace(DOCUMENTED_HOST, host)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const until = async (pattern: RegExp) => {
      for (const deadline = Date.now() + 20_000; !pattern.test(output); await new Promise((done) => setTimeout(done, 50))) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${pattern} in:\n${output}`);
      }
    };
    try {
      await until(/\[connected\]/);
      const decision = post(service, '/notify', notifyBody('alice', 'task-terminal'));
      await until(/Continue\? Proceed\? \[y\/n\] $/);
      child.stdin.write('y\n');
      expect((await decision).body).toMatchObject({ state: 'confirmed', proceed: true, feedback: 'go on' });
    } finally {
      answering = true;
      child.kill('SIGTERM');
    }
  }, 60_000);

  it("runs the JavaScript SDK README's example on the built SDK: it answers alice's prompt", async () => {
    const [example] = codeBlocks('clients/js/README.md').filter((block) => block.lang === 'ts');
    const javascript = ts.transpileModule(example.text.replaceAll(DOCUMENTED_HOST, host), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    // Inside the package's folder, so that its name resolves to the package itself.
    const folder = mkdtempSync(join(resolve('clients/js'), '.readme-example-'));
    writeFileSync(join(folder, 'example.mjs'), javascript);
    answering = false;
    const child = spawn(process.execPath, [join(folder, 'example.mjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    try {
      for (const deadline = Date.now() + 20_000; !/^connected/m.test(output); ) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the example did not connect:\n${output}`);
        await new Promise((done) => setTimeout(done, 50));
      }
      const decision = await post(service, '/notify', {
        ...notifyBody('alice', 'task-js'),
        step_result: { step: 'data_validation', message: '5 rows failed validation. Continue?', status: 'completed', result: { errors: 5 } },
      });
      expect(decision.body).toMatchObject({ state: 'confirmed', proceed: true, feedback: 'go on' });
      for (const deadline = Date.now() + 5_000; !/left: here/.test(output) && Date.now() < deadline; ) await new Promise((done) => setTimeout(done, 50));
      expect(output).toContain('data_validation: 5 rows failed validation. Continue? { errors: 5 }');
      expect(output).toMatch(new RegExp(`${decision.body.callback_id} left: here confirmed`));
    } finally {
      answering = true;
      child.kill('SIGTERM');
      rmSync(folder, { recursive: true, force: true });
    }
  }, 60_000);
});
