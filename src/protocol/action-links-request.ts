import { ValidateBy } from 'class-validator';

/**
 * `links` on POST /notify: `true` (links that work until the confirmation expires), `false`
 * (none, as when absent), or `{ expires_in_seconds }` (links that stop working sooner; never
 * later than the confirmation). See src/links/.
 */
export type ActionLinksRequest = boolean | { expires_in_seconds?: number };

/** The rule's name; dto-schema.ts gives it the equivalent JSON Schema (ACTION_LINKS_REQUEST_SCHEMA). */
export const IS_ACTION_LINKS_REQUEST = 'isActionLinksRequest';

/** Longest a link may be asked to work: the longest confirmation (30 days). */
export const MAX_LINK_SECONDS = 30 * 86_400;

/** Exactly what isActionLinksRequest accepts, as JSON Schema (the compiled validator and OpenAPI). */
export const ACTION_LINKS_REQUEST_SCHEMA = {
  anyOf: [
    { type: 'boolean' },
    {
      type: 'object',
      additionalProperties: false,
      properties: { expires_in_seconds: { type: 'number', minimum: 1, maximum: MAX_LINK_SECONDS } },
    },
  ],
};

export function isActionLinksRequest(value: unknown): value is ActionLinksRequest {
  if (typeof value === 'boolean') return true;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  for (const [key, field] of Object.entries(value)) {
    if (key !== 'expires_in_seconds') return false;
    if (typeof field !== 'number' || !Number.isFinite(field) || field < 1 || field > MAX_LINK_SECONDS) return false;
  }
  return true;
}

export function IsActionLinksRequest(): PropertyDecorator {
  return ValidateBy({
    name: IS_ACTION_LINKS_REQUEST,
    validator: {
      validate: isActionLinksRequest,
      defaultMessage: () => `$property must be true, false or { expires_in_seconds: 1..${MAX_LINK_SECONDS} }`,
    },
  });
}
