import type { Approval, Vote } from '../confirmations/confirmation.js';
import type { Voter } from '../confirmations/confirmation.store.js';

/**
 * The rules of approvals as the memory store applies them; src/redis/lua/confirmation-vote.lua
 * is the same in Lua (test/contracts/confirmation-store.spec.ts holds both to one behaviour).
 */

/** Who may vote: the listed users and members of the listed groups, else only the confirmation's user. */
export function voterProblem(approval: Approval | undefined, ownerId: string, voter: Voter): 'not_an_approver' | 'self_forbidden' | null {
  const approvers = approval?.approvers;
  const listed = approvers
    ? approvers.users.includes(voter.userId) || voter.groups.some((group) => approvers.groups.includes(group))
    : voter.userId === ownerId;
  if (!listed) return 'not_an_approver';
  if (approval?.forbiddenVoter !== undefined && approval.forbiddenVoter === voter.userId) return 'self_forbidden';
  return null;
}

export interface Tally {
  /** The decision the votes make, or null while open. */
  decided: 'confirmed' | 'rejected' | null;
  /** Approvals still needed to confirm. */
  needed: number;
}

/** What the votes so far (the latest last) decide under the policy. */
export function tally(approval: Approval | undefined, votes: readonly Vote[]): Tally {
  const latest = votes[votes.length - 1];
  const policy = approval?.policy ?? 'any';
  if (policy === 'any') return { decided: latest.proceed ? 'confirmed' : 'rejected', needed: 0 };
  const yes = votes.filter((v) => v.proceed).length;
  const no = votes.length - yes;
  const listed = approval?.approvers ? approval.approvers.users.length : 1;
  if (policy === 'all') {
    if (no > 0) return { decided: 'rejected', needed: Math.max(listed - yes, 0) };
    return { decided: yes >= listed ? 'confirmed' : null, needed: Math.max(listed - yes, 0) };
  }
  const quorum = approval?.quorum ?? 1;
  if (yes >= quorum) return { decided: 'confirmed', needed: 0 };
  // With groups the electorate is open: only the expiry ends it without the quorum.
  const closed = (approval?.approvers?.groups.length ?? 0) === 0;
  if (closed && no > listed - quorum) return { decided: 'rejected', needed: quorum - yes };
  return { decided: null, needed: quorum - yes };
}
