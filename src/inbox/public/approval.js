// The approval parts of a prompt card: option buttons, the form (a flat JSON Schema, built
// as labelled native controls), the votes so far and the reminder mark. Every text goes in
// through textContent, like the rest of the page.
import { el } from './render.js';

let fieldSerial = 0;

/** Labels of a single-select's values: `enumNames`, `oneOf: [{ const, title }]`, or the values. */
function choicesOf(schema) {
  if (Array.isArray(schema.oneOf)) return schema.oneOf.map((choice) => ({ value: String(choice.const), label: String(choice.title ?? choice.const) }));
  const names = Array.isArray(schema.enumNames) ? schema.enumNames : [];
  return (schema.enum ?? []).map((value, index) => ({ value: String(value), label: String(names[index] ?? value) }));
}

/** Choices of a multi-select: `items.enum` or `items.anyOf: [{ const, title }]`. */
function multiChoicesOf(schema) {
  const items = schema.items ?? {};
  if (Array.isArray(items.anyOf)) return items.anyOf.map((choice) => ({ value: String(choice.const), label: String(choice.title ?? choice.const) }));
  return (items.enum ?? []).map((value) => ({ value: String(value), label: String(value) }));
}

function humanize(name) {
  const words = name.replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const INPUT_TYPES = { email: 'email', uri: 'url', date: 'date' };

/** One field: its label, control, description and the place for the server's message. */
function renderField(name, schema, required) {
  const id = `field-${++fieldSerial}`;
  const errorId = `${id}-error`;
  const descriptionId = `${id}-description`;
  const title = String(schema.title ?? humanize(name));
  const description = schema.description ? el('p', { class: 'field-help', id: descriptionId, text: String(schema.description) }) : null;
  const error = el('p', { class: 'field-error', id: errorId, hidden: true });
  const requiredMark = required ? el('span', { class: 'required', 'aria-hidden': 'true', text: ' *' }) : null;
  const label = el('label', { for: id }, title, requiredMark);
  let control;
  let read;
  if (schema.type === 'boolean') {
    control = el('input', { type: 'checkbox', id, name });
    control.checked = schema.default === true;
    read = () => control.checked;
  } else if (schema.type === 'array') {
    control = el('select', { id, name, multiple: true, size: Math.min(6, Math.max(2, multiChoicesOf(schema).length)) });
    const chosen = new Set(Array.isArray(schema.default) ? schema.default.map(String) : []);
    for (const choice of multiChoicesOf(schema)) {
      const option = el('option', { value: choice.value, text: choice.label });
      option.selected = chosen.has(choice.value);
      control.append(option);
    }
    read = () => [...control.selectedOptions].map((option) => option.value);
  } else if (schema.type === 'string' && (Array.isArray(schema.enum) || Array.isArray(schema.oneOf))) {
    control = el('select', { id, name });
    if (!required || schema.default === undefined) control.append(el('option', { value: '', text: required ? 'Choose…' : '—' }));
    for (const choice of choicesOf(schema)) control.append(el('option', { value: choice.value, text: choice.label }));
    control.value = schema.default === undefined ? '' : String(schema.default);
    read = () => (control.value === '' ? undefined : control.value);
  } else if (schema.type === 'number' || schema.type === 'integer') {
    control = el('input', { type: 'number', id, name, min: schema.minimum, max: schema.maximum, step: schema.type === 'integer' ? 1 : 'any', inputmode: schema.type === 'integer' ? 'numeric' : 'decimal' });
    if (schema.default !== undefined) control.value = String(schema.default);
    // A value the browser cannot parse reads as '' (valueAsNumber NaN): sent as text, the server names the field.
    read = () => (control.value === '' ? (control.validity.badInput ? 'not a number' : undefined) : Number(control.value));
  } else {
    const type = INPUT_TYPES[schema.format] ?? 'text';
    control = el('input', { type, id, name, minlength: schema.minLength, maxlength: schema.maxLength, autocomplete: 'off' });
    if (schema.format === 'date-time') control.placeholder = 'YYYY-MM-DDThh:mm:ssZ';
    if (schema.default !== undefined) control.value = String(schema.default);
    read = () => (control.value === '' ? undefined : control.value);
  }
  if (required) control.required = true;
  const describedBy = () => [description ? descriptionId : null, error.hidden ? null : errorId].filter(Boolean).join(' ');
  if (description) control.setAttribute('aria-describedby', descriptionId);
  const wrapper = el('div', { class: `field field-${schema.type}`, dataset: { field: name } }, ...(schema.type === 'boolean' ? [el('div', { class: 'check' }, control, label)] : [label, control]), description, error);
  return {
    name,
    wrapper,
    control,
    read,
    showError(message) {
      error.textContent = message;
      error.hidden = false;
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-describedby', describedBy());
    },
    clearError() {
      error.hidden = true;
      error.textContent = '';
      control.removeAttribute('aria-invalid');
      const ids = describedBy();
      if (ids) control.setAttribute('aria-describedby', ids);
      else control.removeAttribute('aria-describedby');
    },
  };
}

/** The form of a prompt: a fieldset of labelled controls; `data()` reads what is filled in. */
export function renderForm(form) {
  if (!form || typeof form !== 'object' || typeof form.properties !== 'object' || form.properties === null) return null;
  const required = new Set(Array.isArray(form.required) ? form.required : []);
  const fields = Object.entries(form.properties).map(([name, schema]) => renderField(name, schema ?? {}, required.has(name)));
  const legend = el('legend', { text: String(form.title ?? 'Details') });
  const element = el(
    'fieldset',
    { class: 'approval-form' },
    legend,
    form.description ? el('p', { class: 'field-help', text: String(form.description) }) : null,
    required.size > 0 ? el('p', { class: 'required-note muted' }, el('span', { class: 'required', 'aria-hidden': 'true', text: '*' }), ' Required') : null,
    ...fields.map((field) => field.wrapper),
  );
  return {
    element,
    data() {
      const data = {};
      for (const field of fields) {
        const value = field.read();
        if (value !== undefined) data[field.name] = value;
      }
      return data;
    },
    /** Shows the server's message next to its field; false when no field has that name. */
    showError(name, message) {
      const field = fields.find((candidate) => candidate.name === name);
      if (!field) return false;
      field.showError(message);
      field.control.focus();
      return true;
    },
    clearErrors() {
      for (const field of fields) field.clearError();
    },
    setDisabled(disabled) {
      element.disabled = disabled;
    },
  };
}

/** What the policy asks for, in words. */
export function policyText(prompt) {
  const listed = prompt.approvers?.users?.length ?? 0;
  const groups = prompt.approvers?.groups?.length ?? 0;
  if (prompt.policy === 'quorum') return `Needs ${prompt.quorum} approval${prompt.quorum === 1 ? '' : 's'}${listed && !groups ? ` of ${listed}` : ''}`;
  if (prompt.policy === 'all') return `Needs everyone's approval${listed ? ` (${listed})` : ''}`;
  if (prompt.approvers) return 'The first answer decides';
  return null;
}

/** The votes so far: who answered what, and how many approvals are still needed. */
export function renderVotes(prompt) {
  const summary = el('p', { class: 'votes-summary' });
  const list = el('ul', { class: 'vote-list' });
  const element = el('section', { class: 'votes', 'aria-label': 'Votes so far', 'aria-live': 'polite' }, summary, list);
  const labelOf = (optionId) => prompt.options?.find((option) => option.id === optionId)?.label ?? optionId;
  const update = (votes, needed) => {
    list.replaceChildren(
      ...votes.map((vote) =>
        el(
          'li',
          { class: `vote ${vote.proceed ? 'yes' : 'no'}`, dataset: { userId: vote.user_id } },
          el('strong', { text: vote.user_id }),
          ` ${vote.proceed ? 'approved' : 'declined'}`,
          vote.option ? ` · ${labelOf(vote.option)}` : '',
        ),
      ),
    );
    const rule = policyText(prompt);
    const still = needed === undefined ? '' : ` · ${needed} more approval${needed === 1 ? '' : 's'} needed`;
    summary.textContent = `${rule ?? 'Votes'}${votes.length === 0 ? ' · no votes yet' : still}`;
  };
  update(prompt.votes ?? [], prompt.needed);
  return { element, update };
}

/** The reminder mark: hidden until a reminder shows the prompt again. */
export function renderReminder() {
  const element = el('span', { class: 'reminder-badge', role: 'status', hidden: true });
  return {
    element,
    update(n) {
      if (!n) return;
      element.hidden = false;
      element.textContent = n === 1 ? 'Reminder' : `Reminder ${n}`;
    },
  };
}
