// @ts-check
// Form fields with labels, hints and an error slot each; API errors placed beside the field
// their `details[].field` names (`config.syncTime` → the sync time input), in words: the
// field's label and the API's message ("Sync time must be HH:MM (24h), e.g. 06:00").

import { h, newId } from './dom.js';
import { readableName } from './field-names.js';

/** @import { ErrorDetail } from '../../client/datasync.js' */
/** @typedef {{message: string, details: ErrorDetail[]}} FormError what a form shows: the API's error, or the form's own */

/**
 * One labelled control. `field` is the API's name for it ("config.syncTime"), used to place
 * the API's error messages; `name` is the form's own key (defaults to `field`).
 * @param {object} spec
 * @param {string} spec.label
 * @param {string} spec.field
 * @param {string} [spec.name]
 * @param {string} [spec.type] input type, or "select" / "textarea" / "checkbox"
 * @param {any} [spec.value]
 * @param {string} [spec.hint]
 * @param {boolean} [spec.required] marked as such; the API still decides
 * @param {Array<[string, string]>} [spec.options] for selects: [value, label]
 * @param {Record<string, any>} [spec.attrs] extra attributes for the control
 */
export function field(spec) {
  const { label, field: apiField, name = apiField, type = 'text', value, hint, required = false, options = [] } = spec;
  const attrs = { ...(required ? { 'aria-required': 'true' } : {}), ...spec.attrs };
  const id = newId('f');
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const described = [hintId, errorId].filter(Boolean).join(' ');
  let control;
  if (type === 'select') {
    control = h('select', { id, name, 'aria-describedby': described, ...attrs },
      options.map(([v, text]) => h('option', { value: v, selected: String(value ?? '') === v }, text)));
  } else if (type === 'textarea') {
    control = /** @type {HTMLTextAreaElement} */ (h('textarea', { id, name, rows: 4, 'aria-describedby': described, spellcheck: 'false', ...attrs }));
    control.value = value ?? '';
  } else if (type === 'checkbox') {
    control = h('input', { id, name, type: 'checkbox', checked: Boolean(value), 'aria-describedby': described, ...attrs });
  } else {
    control = h('input', { id, name, type, value: value ?? '', 'aria-describedby': described, ...attrs });
  }
  const labelEl = h('label', { for: id }, label);
  // Beside the label, not in it: the control's accessible name stays its label.
  const mark = required ? h('span', { class: 'required-mark' }, 'required') : null;
  const parts = type === 'checkbox'
    ? [h('div', { class: 'check' }, control, labelEl)]
    : [h('div', { class: 'label-row' }, labelEl, mark), control];
  return h('div', { class: 'field', dataset: { field: apiField } },
    ...parts,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: errorId, hidden: true }));
}

/**
 * A form with an error summary slot first and `novalidate`: the API is the validator. A
 * field's error goes away as soon as its value is edited.
 * @param {Record<string, any>} props @param {...any} children
 */
export function form(props, ...children) {
  const el = h('form', { novalidate: true, ...props }, h('div', { class: 'form-errors', role: 'alert', tabindex: '-1', hidden: true }), ...children);
  const edited = (/** @type {Event} */ event) => {
    const wrapper = /** @type {HTMLElement|null} */ (/** @type {Element} */ (event.target).closest?.('.field[data-field]'));
    if (wrapper) clearFieldError(wrapper);
  };
  el.addEventListener('input', edited);
  el.addEventListener('change', edited);
  return el;
}

/** @param {HTMLElement} wrapper a `field()` */
function clearFieldError(wrapper) {
  const slot = /** @type {HTMLElement|null} */ (wrapper.querySelector('.field-error'));
  if (slot && !slot.hidden) {
    slot.hidden = true;
    slot.textContent = '';
  }
  for (const el of wrapper.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/** The control inside a `field()` wrapper. @param {HTMLElement} form @param {string} apiField */
export function control(form, apiField) {
  return /** @type {HTMLInputElement|null} */ (form.querySelector(`[data-field="${CSS.escape(apiField)}"] :is(input, select, textarea)`));
}

/**
 * The value of a field by its API name (trimmed; checkboxes give booleans), undefined when
 * the field is absent or hidden. Typed `any`: the form sends what was entered and the API
 * checks it, naming each bad field (shown beside it).
 * @param {HTMLElement} form @param {string} apiField
 * @returns {any}
 */
export function valueOf(form, apiField) {
  const el = control(form, apiField);
  if (!el || el.closest('[hidden]')) return undefined;
  if (el.type === 'checkbox') return el.checked;
  return el.value.trim();
}

/** @param {HTMLElement} form */
export function clearErrors(form) {
  const summary = /** @type {HTMLElement} */ (form.querySelector('.form-errors'));
  summary.hidden = true;
  summary.replaceChildren();
  for (const slot of /** @type {NodeListOf<HTMLElement>} */ (form.querySelectorAll('.field-error'))) {
    slot.hidden = true;
    slot.textContent = '';
  }
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/**
 * Shows an API error: each detail beside the nearest field that names it (`config.path`
 * falls back to a field for `config`), the rest and the message in the summary, each as
 * "<label> <message>". Focus goes to the first invalid field, else the summary.
 * @param {HTMLElement} form
 * @param {FormError} error
 */
export function showErrors(form, error) {
  clearErrors(form);
  /** @type {ErrorDetail[]} */
  const unplaced = [];
  /** @type {HTMLElement|null} */
  let first = null;
  for (const detail of error.details) {
    const wrapper = fieldFor(form, detail.field);
    if (!wrapper) {
      unplaced.push(detail);
      continue;
    }
    const folded = wrapper.closest('details');
    if (folded) folded.open = true;
    const slot = /** @type {HTMLElement} */ (wrapper.querySelector('.field-error'));
    const inner = sentence(labelOf(form, detail.field), detail.message);
    slot.textContent = slot.textContent ? `${slot.textContent} ${inner}` : inner;
    slot.hidden = false;
    const el = /** @type {HTMLElement|null} */ (wrapper.querySelector('input, select, textarea'));
    el?.setAttribute('aria-invalid', 'true');
    first = first || el;
  }
  const summary = /** @type {HTMLElement} */ (form.querySelector('.form-errors'));
  summary.replaceChildren(
    h('p', null, inWords(form, error)),
    unplaced.length ? h('ul', null, unplaced.map((d) => h('li', null, sentence(labelOf(form, d.field), d.message)))) : '',
  );
  summary.hidden = false;
  (first || summary).focus();
}

/**
 * What a person calls the field the API names: the label of the form's field for exactly
 * that name (shown or not), else the name's last part in words.
 * @param {HTMLElement} form @param {string} apiField
 */
export function labelOf(form, apiField) {
  const wrapper = form.querySelector(`[data-field="${CSS.escape(apiField)}"]`);
  const label = wrapper?.querySelector('label')?.textContent?.trim();
  return label || readableName(apiField);
}

/**
 * The error's message with each field it names by the API's key ("Invalid value for
 * config.path") called by its label instead.
 * @param {HTMLElement} form @param {FormError} error
 */
function inWords(form, error) {
  const named = [...new Set(error.details.map((d) => d.field))].sort((a, b) => b.length - a.length);
  return named.reduce((text, apiField) => text.replaceAll(apiField, labelOf(form, apiField)), error.message);
}

/**
 * "Port must be a whole number from 1 to 65,535"; a message that is a sentence of its own
 * follows a colon.
 * @param {string} label @param {string} message
 */
export function sentence(label, message) {
  const text = message.trim();
  return /^[a-z]/.test(text) ? `${label} ${text}` : `${label}: ${text}`;
}

/** @param {HTMLElement} form @param {string} apiField */
function fieldFor(form, apiField) {
  const parts = apiField.split('.');
  while (parts.length) {
    const wrapper = /** @type {HTMLElement|null} */ (form.querySelector(`[data-field="${CSS.escape(parts.join('.'))}"]`));
    if (wrapper && !wrapper.closest('[hidden]')) return wrapper;
    parts.pop();
  }
  return null;
}

/**
 * Parses a JSON textarea; a mistake is reported beside it, as the API would.
 * @param {HTMLElement} form @param {string} apiField @param {string} label
 * @returns {any} the object, `undefined` when empty
 * @throws {FormError}
 */
export function jsonOf(form, apiField, label) {
  const text = valueOf(form, apiField);
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
  } catch (e) {
    throw invalid(apiField, `is not valid JSON (${e instanceof Error ? e.message : e})`, label);
  }
  throw invalid(apiField, 'must be a JSON object: { … }', label);
}

/**
 * A form's own error about one field, shown as the API's are.
 * @param {string} apiField @param {string} message @param {string} [label]
 * @returns {FormError}
 */
export function invalid(apiField, message, label = 'Check the form') {
  return { message: `${label}: see the field marked below`, details: [{ field: apiField, message }] };
}

/**
 * A submit handler that disables the button while the request runs and shows errors.
 * @param {HTMLElement} formEl @param {() => Promise<void>} handler
 */
export function onSubmit(formEl, handler) {
  formEl.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = /** @type {HTMLButtonElement|null} */ (formEl.querySelector('button[type="submit"]'));
    if (button) button.disabled = true;
    formEl.setAttribute('aria-busy', 'true');
    clearErrors(formEl);
    try {
      await handler();
    } catch (error) {
      const e = /** @type {any} */ (error);
      if (e && e.status === 401 && e.handled) return;
      showErrors(formEl, { message: e?.message || String(e), details: e?.details || [] });
    } finally {
      if (button) button.disabled = false;
      formEl.removeAttribute('aria-busy');
    }
  });
}
