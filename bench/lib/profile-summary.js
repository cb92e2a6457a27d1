// Self time per function from a V8 .cpuprofile, as a plain-text table.

/** Rows { name, location, selfMs } sorted by self time, and the profile's total. */
export function selfTimes(profile) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map();
  let totalUs = 0;
  // timeDeltas[i + 1] is how long sample i's stack stayed on the CPU.
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i + 1] ?? 0;
    const { callFrame } = nodes.get(profile.samples[i]);
    const location = shortLocation(callFrame);
    const key = `${callFrame.functionName}@${location}`;
    const row = byFunction.get(key) ?? { name: callFrame.functionName || '(anonymous)', location, selfUs: 0 };
    row.selfUs += us;
    byFunction.set(key, row);
    totalUs += us;
  }
  const rows = [...byFunction.values()]
    .sort((a, b) => b.selfUs - a.selfUs)
    .map((row) => ({ name: row.name, location: row.location, selfMs: row.selfUs / 1000 }));
  return { rows, totalMs: totalUs / 1000 };
}

/** Markdown table of the busiest functions; shares are of the time the CPU was not idle. */
export function summarizeProfile(profile, top = 15) {
  const { rows, totalMs } = selfTimes(profile);
  const idleMs = rows.find((row) => row.name === '(idle)')?.selfMs ?? 0;
  const busyMs = totalMs - idleMs;
  const lines = [
    `top ${top} functions by self time (${busyMs.toFixed(0)} ms busy of ${totalMs.toFixed(0)} ms sampled):`,
    '',
    '| # | self ms | of busy | function | where |',
    '| ---: | ---: | ---: | --- | --- |',
  ];
  rows
    .filter((row) => row.name !== '(idle)')
    .slice(0, top)
    .forEach((row, i) => lines.push(`| ${i + 1} | ${row.selfMs.toFixed(1)} | ${((row.selfMs / busyMs) * 100).toFixed(1)}% | ${row.name} | ${row.location} |`));
  return lines.join('\n');
}

/** Self time per package (node_modules/<name>), dist/<dir>, Node internals or native code. */
export function summarizeByPackage(profile, top = 10) {
  const { rows } = selfTimes(profile);
  const busy = rows.filter((row) => row.name !== '(idle)');
  const busyMs = busy.reduce((total, row) => total + row.selfMs, 0);
  const byPackage = new Map();
  for (const row of busy) byPackage.set(packageOf(row), (byPackage.get(packageOf(row)) ?? 0) + row.selfMs);
  const lines = ['| package | self ms | of busy |', '| --- | ---: | ---: |'];
  [...byPackage.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .forEach(([name, ms]) => lines.push(`| ${name} | ${ms.toFixed(1)} | ${((ms / busyMs) * 100).toFixed(1)}% |`));
  return lines.join('\n');
}

function packageOf({ name, location }) {
  if (!location) return name.startsWith('(') ? name : `native: ${name}`;
  const dep = location.match(/^node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (dep) return dep[1];
  const own = location.match(/^dist\/([^/]+)/);
  if (own) return `dist/${own[1].replace(/\.js:\d+$/, '')}`;
  return location.startsWith('node:') ? 'node internals' : location.replace(/:\d+$/, '');
}

/** `node_modules/ws/lib/sender.js:120`, `dist/...`, `node:internal/...` rather than full URLs. */
function shortLocation({ url, lineNumber }) {
  if (!url) return '';
  const path = url.replace(/^file:\/\//, '');
  const inRepo = path.match(/(node_modules\/.*|dist\/.*|bench\/.*)$/);
  return `${inRepo ? inRepo[1] : path}:${lineNumber + 1}`;
}
