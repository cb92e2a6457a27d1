import type { Approval } from '../confirmations/confirmation.js';
import { ErrorCode, GatewayError } from '../protocol/error-code.enum.js';
import type { ApprovalOption, ApprovalPolicy, Approvers, FormSchema } from '../protocol/server-frames.js';
import { formProblem, prepareForm } from './form-schema.js';

/** The approval fields of POST /notify, after their DTO checks. */
export interface ApprovalRequest {
  options?: ApprovalOption[] | null;
  form?: FormSchema | null;
  approvers?: Approvers | null;
  policy?: ApprovalPolicy | null;
  quorum?: number | null;
  forbid_self?: boolean | null;
  requested_by?: string | null;
}

function refuse(message: string): GatewayError {
  return new GatewayError(ErrorCode.ValidationFailed, message);
}

/**
 * The request's approval, or undefined for a plain prompt (none of the fields given): the
 * rules the DTO cannot state (unique option ids, the form's subset, policy and quorum
 * together, no groups with `all`) are checked here, as 400 validation_failed.
 */
export function approvalOf(request: ApprovalRequest): Approval | undefined {
  const { options, form, approvers, policy, quorum, forbid_self: forbidSelf, requested_by: requestedBy } = request;
  if (options == null && form == null && approvers == null && policy == null && quorum == null && forbidSelf == null && requestedBy == null) return undefined;
  const approval: Approval = { policy: policy ?? 'any' };
  if (options != null) {
    const ids = new Set(options.map((o) => o.id));
    if (ids.size !== options.length) throw refuse('options: ids must be unique');
    approval.options = options.map((o) => ({ id: o.id, label: o.label, ...(o.description !== undefined && { description: o.description }), proceed: o.proceed }));
  }
  if (form != null) {
    const problem = formProblem(form);
    if (problem) throw refuse(problem);
    prepareForm(form);
    approval.form = form;
  }
  if (approvers != null) {
    approval.approvers = { users: [...new Set(approvers.users ?? [])], groups: [...new Set(approvers.groups ?? [])] };
    if (approval.approvers.users.length === 0 && approval.approvers.groups.length === 0) throw refuse('approvers: name at least one user or group');
  }
  const listed = approval.approvers?.users.length ?? 1;
  const grouped = (approval.approvers?.groups.length ?? 0) > 0;
  if (approval.policy === 'all' && grouped) throw refuse("policy: 'all' needs listed users, not groups (a group's members are not known in advance)");
  if (approval.policy === 'quorum') {
    if (quorum == null) throw refuse("quorum: required with policy 'quorum'");
    if (!grouped && quorum > listed) throw refuse(`quorum: ${quorum} is more than the ${listed} listed approvers`);
    approval.quorum = quorum;
  } else if (quorum != null) {
    throw refuse("quorum: only with policy 'quorum'");
  }
  if (forbidSelf) {
    if (requestedBy == null) throw refuse('forbid_self: needs requested_by');
    approval.forbiddenVoter = requestedBy;
  }
  return approval;
}
