import { idProblem } from '../protocol/id.js';
import { MAX_CONNECTION_GROUPS } from './approval-limits.js';

/**
 * A connection's groups from a token claim or `?groups=`: the entries that are valid ids
 * (strings, trimmed, not empty), each once, at most MAX_CONNECTION_GROUPS. Anything else
 * is left out rather than refusing the connection: a group it does not have only means
 * prompts for that group do not reach it.
 */
export function groupsOf(entries: readonly unknown[]): string[] {
  const groups = new Set<string>();
  for (const entry of entries) {
    if (groups.size >= MAX_CONNECTION_GROUPS) break;
    if (typeof entry !== 'string') continue;
    const group = entry.trim();
    if (group !== '' && idProblem(group) === null) groups.add(group);
  }
  return [...groups];
}
