// Readings of another process from /proc (Linux only), so servers need no hooks.
import { readFileSync } from 'node:fs';

const CLK_TCK = 100; // USER_HZ; `getconf CLK_TCK` is 100 on every Linux architecture Node runs on.

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may itself contain spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLK_TCK;
}

/** Resident set size in bytes. */
export function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = status.match(/^VmRSS:\s+(\d+) kB/m);
  return kb ? Number(kb[1]) * 1024 : NaN;
}

/** This process's open-files limit, { soft, hard }. */
export function openFilesLimit() {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const row = limits.match(/^Max open files\s+(\S+)\s+(\S+)/m);
  const parse = (v) => (v === 'unlimited' ? Infinity : Number(v));
  return row ? { soft: parse(row[1]), hard: parse(row[2]) } : { soft: 1024, hard: 1024 };
}
