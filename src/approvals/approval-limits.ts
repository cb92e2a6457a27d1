import { ID_CHARACTERS_PATTERN, MAX_ID_LENGTH } from '../protocol/id.js';
import { MAX_OPTION_ID_LENGTH, OPTION_ID_PATTERN_SOURCE } from '../protocol/client-frames.js';

/** The bounds of what POST /notify may ask of approvers (everything a caller makes the server hold is bounded). */
export const MAX_OPTIONS = 16;
export const MAX_OPTION_LABEL_LENGTH = 200;
export const MAX_OPTION_DESCRIPTION_LENGTH = 2000;
/** Per list (users, groups) of a request. */
export const MAX_APPROVERS_PER_LIST = 100;
/** Per list once escalation steps have added theirs (10 steps of 100 on top of the request's). */
export const MAX_APPROVERS_TOTAL = 1100;
export const MAX_QUORUM = MAX_APPROVERS_PER_LIST;
/**
 * Votes one confirmation keeps: with groups the electorate is open (any member may vote), so
 * the count is bounded here rather than by the lists.
 */
export const MAX_VOTES = MAX_APPROVERS_TOTAL;
/** Groups a connection may carry (token claim or ?groups=). */
export const MAX_CONNECTION_GROUPS = 100;

const ID_SCHEMA = { type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH, pattern: ID_CHARACTERS_PATTERN };

/** POST /notify `options`: 1..16 of { id, label, description?, proceed } (unique ids: checked by the service). */
export const OPTIONS_SCHEMA = {
  type: 'array',
  minItems: 1,
  maxItems: MAX_OPTIONS,
  items: {
    type: 'object',
    required: ['id', 'label', 'proceed'],
    additionalProperties: false,
    properties: {
      id: { type: 'string', minLength: 1, maxLength: MAX_OPTION_ID_LENGTH, pattern: OPTION_ID_PATTERN_SOURCE },
      label: { type: 'string', maxLength: MAX_OPTION_LABEL_LENGTH },
      description: { type: 'string', maxLength: MAX_OPTION_DESCRIPTION_LENGTH },
      proceed: { type: 'boolean' },
    },
  },
};

/** POST /notify `approvers`: { users?, groups? }, ids as user_id, at most 100 each. */
export const APPROVERS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    users: { type: 'array', maxItems: MAX_APPROVERS_PER_LIST, items: ID_SCHEMA },
    groups: { type: 'array', maxItems: MAX_APPROVERS_PER_LIST, items: ID_SCHEMA },
  },
};
