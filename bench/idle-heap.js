// What one idle connection keeps on the gateway's heap, by constructor: starts the
// production build with --heapsnapshot-signal, writes a heap snapshot with no client and
// one with N idle clients (a snapshot collects garbage first), and prints the difference
// per connection, largest first, with the RSS difference per connection beside it.
// With --confirms=M, the clients stay and the two snapshots are taken around M confirm
// round trips instead (each client answers its prompts), per round trip.
//
//   node bench/idle-heap.js [clients=2000] [rows=40] [--confirms=M]
//
// Runs the gateway on the Node running this script (e.g. a Node 24 binary).
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { installExitHandlers, killAll } from './lib/children.js';
import { postJson } from './lib/http.js';
import { confirmAnswer, notifyBody } from './lib/payload.js';
import { AUTH_HEADERS, startServer } from './lib/servers.js';
import { sleep } from './lib/stats.js';

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const CLIENTS = Number(positional[0] ?? 2000);
const ROWS = Number(positional[1] ?? 40);
const CONFIRMS = Number(process.argv.find((a) => a.startsWith('--confirms='))?.split('=')[1] ?? 0);

async function main() {
  installExitHandlers();
  process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, '--heapsnapshot-signal=SIGUSR2'].filter(Boolean).join(' ');
  const server = await startServer('gateway', { logDir: join(tmpdir(), 'idle-heap-logs'), tag: 'idle-heap' });
  try {
    await openClients(server.baseUrl, 50, 'warm').then(closeAll); // first-use allocations out of the diff
    await sleep(1_000);
    if (CONFIRMS > 0) return await measureConfirms(server);
    const rssBefore = server.rss();
    const before = await snapshot(server.pid);
    const clients = await openClients(server.baseUrl, CLIENTS, 'idle');
    await sleep(2_000);
    const after = await snapshot(server.pid);
    const rssAfter = server.rss();
    console.log(`node ${process.version}, ${clients.length} idle clients`);
    console.log(`RSS per connection ${((rssAfter - rssBefore) / clients.length).toFixed(0)} B`);
    printGrowth(before, after, clients.length);
    printNew(before, after, clients.length);
    closeAll(clients);
  } finally {
    await server.stop();
    killAll();
  }
}

async function measureConfirms(server) {
  const clients = await openClients(server.baseUrl, CLIENTS, 'confirm');
  clients.forEach(autoConfirm);
  let step = 0;
  const roundTrips = async (count) => {
    for (let done = 0; done < count; done += clients.length) {
      await Promise.all(clients.slice(0, Math.min(clients.length, count - done)).map((_, i) => notify(server, `confirm-${i}`, step++)));
    }
  };
  await roundTrips(Math.min(CONFIRMS, 2_000)); // warm-up
  const before = await snapshot(server.pid);
  await roundTrips(CONFIRMS);
  await sleep(1_000);
  const after = await snapshot(server.pid);
  console.log(`node ${process.version}, ${CONFIRMS} confirm round trips over ${clients.length} users`);
  printGrowth(before, after, CONFIRMS);
  printNew(before, after, CONFIRMS);
  closeAll(clients);
}

function autoConfirm(ws, n) {
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    if (frame.type === 'task_step_result') ws.send(JSON.stringify(confirmAnswer(frame.callback_id, n)));
  });
}

async function notify(server, userId, step) {
  const res = await postJson(`${server.baseUrl}/notify`, notifyBody(userId, step), { headers: AUTH_HEADERS, timeoutMs: 30_000 });
  if (res.body?.state !== 'confirmed') throw new Error(`notify answered ${res.status} ${JSON.stringify(res.body)}`);
}

async function openClients(baseUrl, count, prefix) {
  const url = baseUrl.replace(/^http/, 'ws');
  const clients = [];
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, (_, j) => {
      const ws = new WebSocket(`${url}/?user_id=${prefix}-${i + j}`, { perMessageDeflate: false });
      return new Promise((resolve, reject) => ws.once('open', () => resolve(ws)).once('error', reject));
    });
    clients.push(...(await Promise.all(batch)));
  }
  return clients;
}

function closeAll(clients) {
  for (const ws of clients) ws.close();
}

/** Signals the server to write a snapshot, waits for the file, returns it parsed. */
async function snapshot(pid) {
  const existing = new Set(snapshotFiles(pid));
  process.kill(pid, 'SIGUSR2');
  let file;
  let lastSize = -1;
  for (;;) {
    await sleep(500);
    file ??= snapshotFiles(pid).find((f) => !existing.has(f));
    if (!file) continue;
    const size = statSync(file).size;
    if (size === lastSize && size > 0 && readFileSync(file, 'utf8').trimEnd().endsWith('}')) break;
    lastSize = size;
  }
  const parsed = JSON.parse(readFileSync(file, 'utf8'));
  rmSync(file);
  return parsed;
}

function snapshotFiles(pid) {
  return readdirSync(tmpdir())
    .filter((f) => f.includes(`.${pid}.`) && f.endsWith('.heapsnapshot'))
    .map((f) => join(tmpdir(), f));
}

/** Reads a snapshot's flat arrays as nodes with their edges and first retainer. */
function graph({ snapshot: meta, nodes, edges, strings, locations = [] }) {
  const nf = meta.meta.node_fields;
  const ef = meta.meta.edge_fields;
  const nodeTypes = meta.meta.node_types[0];
  const edgeTypes = meta.meta.edge_types[0];
  const width = nf.length;
  const [typeAt, nameAt, idAt, sizeAt, edgeCountAt] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => nf.indexOf(f));
  const [eTypeAt, eNameAt, eToAt] = ['type', 'name_or_index', 'to_node'].map((f) => ef.indexOf(f));
  const count = nodes.length / width;
  const firstEdge = new Uint32Array(count + 1);
  for (let n = 0; n < count; n++) firstEdge[n + 1] = firstEdge[n] + nodes[n * width + edgeCountAt] * ef.length;
  const where = new Map();
  const lf = meta.meta.location_fields ?? [];
  for (let i = 0; i < locations.length; i += lf.length) where.set(locations[i] / width, `${locations[i + 1]}:${locations[i + 2] + 1}`);
  const retainer = new Int32Array(count).fill(-1);
  const retainerEdge = new Array(count);
  const node = (n) => ({ type: nodeTypes[nodes[n * width + typeAt]], name: strings[nodes[n * width + nameAt]], id: nodes[n * width + idAt], size: nodes[n * width + sizeAt] });
  const edgeName = (e) => {
    const type = edgeTypes[edges[e + eTypeAt]];
    return type === 'element' || type === 'hidden' ? `[${edges[e + eNameAt]}]` : strings[edges[e + eNameAt]];
  };
  const edgesOf = (n) => {
    const out = [];
    for (let e = firstEdge[n]; e < firstEdge[n + 1]; e += ef.length) out.push({ type: edgeTypes[edges[e + eTypeAt]], name: edgeName(e), to: edges[e + eToAt] / width });
    return out;
  };
  for (let n = 0; n < count; n++) {
    for (let e = firstEdge[n]; e < firstEdge[n + 1]; e += ef.length) {
      const to = edges[e + eToAt] / width;
      if (edgeTypes[edges[e + eTypeAt]] === 'weak') continue;
      if (retainer[to] === -1) {
        retainer[to] = n;
        retainerEdge[to] = edgeName(e);
      }
    }
  }
  return { count, node, edgesOf, retainer, retainerEdge, where };
}

function maxId(parsed) {
  const g = graph(parsed);
  let max = 0;
  for (let n = 0; n < g.count; n++) max = Math.max(max, g.node(n).id);
  return max;
}

/** The file a closure's code comes from (its last two path segments). */
function scriptOf(g, n) {
  const shared = g.edgesOf(n).find((e) => e.name === 'shared');
  const script = shared && g.edgesOf(shared.to).find((e) => e.name === 'script');
  const name = script ? g.node(script.to).name : '';
  return name.split('/').slice(-2).join('/') || '?';
}

/** What a node is, told apart enough to see who made it. */
function describe(g, n) {
  const { type, name } = g.node(n);
  if (type === 'object' && name === 'Object') {
    const props = g.edgesOf(n).filter((e) => e.type === 'property').map((e) => e.name);
    return `Object{${props.slice(0, 8).join(',')}}`;
  }
  if (type === 'closure') return `closure:${name.slice(0, 40)}@${scriptOf(g, n)}:${(g.where.get(n) ?? '?:?').split(':')[1]}`;
  if (type === 'object' || type === 'native') return `${type}:${name.slice(0, 50)}`;
  return type;
}

/** Self sizes by what each object is, in a whole snapshot. */
function totals(parsed) {
  const g = graph(parsed);
  const rows = new Map();
  for (let n = 0; n < g.count; n++) {
    const key = describe(g, n).replace(/@.*/, '');
    const row = rows.get(key) ?? rows.set(key, { count: 0, bytes: 0 }).get(key);
    row.count += 1;
    row.bytes += g.node(n).size;
  }
  return rows;
}

/** Growth between two snapshots by what objects are (works where object ids restart). */
function printGrowth(before, after, connections) {
  const was = totals(before);
  const rows = [...totals(after)].map(([key, { count, bytes }]) => [key, { count: count - (was.get(key)?.count ?? 0), bytes: bytes - (was.get(key)?.bytes ?? 0) }]);
  const total = rows.reduce((sum, [, r]) => sum + r.bytes, 0);
  console.log(`heap growth per ${CONFIRMS > 0 ? 'round trip' : 'connection'} ${(total / connections).toFixed(0)} B (self sizes)`);
  rows.sort((a, b) => Math.abs(b[1].bytes) - Math.abs(a[1].bytes));
  for (const [key, { count, bytes }] of rows.slice(0, ROWS)) {
    console.log(`${(bytes / connections).toFixed(1).padStart(8)} B ${(count / connections).toFixed(2).padStart(6)} x  ${key}`);
  }
}

function printNew(before, after, connections) {
  const since = maxId(before);
  const g = graph(after);
  const rows = new Map();
  let total = 0;
  for (let n = 0; n < g.count; n++) {
    const { id, size } = g.node(n);
    if (id <= since) continue;
    const r = g.retainer[n];
    const owner = r === -1 ? '-' : `${describe(g, r)}.${g.retainerEdge[n]}`;
    const key = `${describe(g, n)}  <-  ${owner.slice(0, 120)}`;
    const row = rows.get(key) ?? rows.set(key, { count: 0, bytes: 0 }).get(key);
    row.count += 1;
    row.bytes += size;
    total += size;
  }
  console.log(`new heap objects per ${CONFIRMS > 0 ? 'round trip' : 'connection'} ${(total / connections).toFixed(0)} B (self sizes)`);
  const sorted = [...rows].sort((a, b) => b[1].bytes - a[1].bytes);
  for (const [key, { count, bytes }] of sorted.slice(0, ROWS)) {
    console.log(`${(bytes / connections).toFixed(1).padStart(8)} B ${(count / connections).toFixed(2).padStart(6)} x  ${key}`);
  }
}

main().catch((err) => {
  console.error(err);
  killAll();
  process.exit(1);
});
