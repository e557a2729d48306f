// @ts-check
// Form controls built from a source type's declared fields (GET /api/source-types), and their
// values read back for the API: integers and numbers as numbers, booleans as booleans, `json`
// parsed, a choice as its declared value, dotted keys (`oauth.clientId`) nested, empty
// optional fields left out.

import { h, announce, newId } from './dom.js';
import { field, control } from './forms.js';

/** @import { ErrorDetail } from '../../client/datasync.js' */
/** @import { DeclaredField, SourceType } from './source-types.js' */

/**
 * The labelled control for one declared field. `prefix` is where the value goes in the
 * request body ("credentials", "settings", "config"), so the API's error about
 * `config.query` lands beside the Query editor. Secrets are never filled in.
 * @param {string} prefix @param {DeclaredField} spec @param {unknown} [value]
 */
export function declaredField(prefix, spec, value) {
  const base = { label: spec.label, field: `${prefix}.${spec.key}`, hint: spec.help || undefined, required: spec.required };
  const placeholder = spec.placeholder || (spec.default !== null && !spec.choices.length ? String(spec.default) : '');
  switch (spec.kind) {
    case 'secret':
      return field({ ...base, type: 'password', attrs: { autocomplete: 'new-password', placeholder, spellcheck: 'false' } });
    case 'query':
      return field({ ...base, type: 'textarea', value, attrs: { class: 'query', rows: 7, placeholder, spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off', wrap: 'off' } });
    case 'multiline':
      return field({ ...base, type: 'textarea', value, attrs: { rows: 4, placeholder } });
    case 'json': {
      const wrapper = field({ ...base, type: 'textarea', value: value === undefined ? undefined : JSON.stringify(value, null, 2), attrs: { rows: 6, placeholder, spellcheck: 'false' } });
      wrapper.append(fileLoader(wrapper));
      return wrapper;
    }
    case 'integer':
    case 'number':
      return field({
        ...base, type: 'number', value,
        attrs: {
          inputmode: spec.kind === 'integer' ? 'numeric' : 'decimal',
          step: spec.kind === 'integer' ? 1 : 'any',
          min: spec.minimum ?? undefined,
          max: spec.maximum ?? undefined,
          placeholder,
        },
      });
    case 'boolean':
      if (!spec.choices.length) return field({ ...base, type: 'checkbox', value: value === undefined ? spec.default === true : value === true });
      return choiceField(base, spec, value);
    case 'choice':
      return choiceField(base, spec, value);
    case 'url':
      return field({ ...base, type: 'url', value, attrs: { inputmode: 'url', placeholder, autocomplete: 'off', spellcheck: 'false' } });
    default:
      return field({ ...base, value, attrs: { placeholder, autocomplete: 'off' } });
  }
}

/**
 * A select of the declared choices. An optional one starts with an empty option that keeps
 * the default (named when declared); a boolean's choices make it tri-state.
 * @param {Parameters<typeof field>[0]} base @param {DeclaredField} spec @param {unknown} value
 */
function choiceField(base, spec, value) {
  /** @type {Array<[string, string]>} */
  const options = spec.choices.map((c) => [String(c.value), c.label]);
  const declaredDefault = spec.choices.find((c) => c.value === spec.default);
  if (!spec.required || !declaredDefault) {
    const empty = declaredDefault ? `Default: ${declaredDefault.label}` : spec.required ? 'Choose…' : 'Default';
    options.unshift(['', empty]);
  }
  const shown = value !== undefined && value !== null ? String(value) : spec.required && declaredDefault ? String(declaredDefault.value) : '';
  return field({ ...base, type: 'select', value: shown, options });
}

/**
 * "Or load a file": reads a JSON file (a downloaded key) into the field's textarea; nothing
 * is uploaded until the form is sent.
 * @param {HTMLElement} wrapper
 */
function fileLoader(wrapper) {
  const id = newId('file');
  const input = /** @type {HTMLInputElement} */ (h('input', { type: 'file', id, accept: 'application/json,.json' }));
  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    if (!file) return;
    const area = /** @type {HTMLTextAreaElement} */ (wrapper.querySelector('textarea'));
    area.value = await file.text();
    area.dispatchEvent(new Event('input', { bubbles: true }));
    announce(`Loaded ${file.name}`);
  });
  return h('div', { class: 'file-loader' }, h('label', { for: id }, 'Or load it from a .json file'), input);
}

/**
 * The declared fields' controls, split into the main ones and those under "Advanced".
 * @param {string} prefix @param {readonly DeclaredField[]} specs @param {Record<string, unknown>} [values]
 */
export function declaredFields(prefix, specs, values = {}) {
  const build = (/** @type {DeclaredField} */ spec) => declaredField(prefix, spec, valueAt(values, spec.key));
  return {
    main: specs.filter((s) => !s.advanced).map(build),
    advanced: specs.filter((s) => s.advanced).map(build),
  };
}

/**
 * The values of the declared fields shown in `form`, typed and nested. A value a field
 * cannot hold (text in a number field, JSON that is not an object) is added to `problems`,
 * named as the API would name it.
 * @param {HTMLElement} form @param {string} prefix @param {readonly DeclaredField[]} specs
 * @param {ErrorDetail[]} problems
 * @returns {Record<string, unknown>}
 */
export function declaredValues(form, prefix, specs, problems) {
  /** @type {Record<string, unknown>} */
  const values = {};
  for (const spec of specs) {
    const apiField = `${prefix}.${spec.key}`;
    const el = control(form, apiField);
    if (!el || el.closest('[hidden]')) continue;
    const read = typedValue(el, spec);
    if ('problem' in read) problems.push({ field: apiField, message: read.problem });
    else if (read.value !== undefined) setAt(values, spec.key, read.value);
  }
  return values;
}

/**
 * @param {HTMLInputElement} el @param {DeclaredField} spec
 * @returns {{value: unknown} | {problem: string}}
 */
function typedValue(el, spec) {
  if (el.type === 'checkbox') {
    // Unticked is sent only where it differs from the declared default.
    return { value: el.checked ? true : spec.default === true ? false : undefined };
  }
  if (el.validity?.badInput) return { problem: numberRule(spec) };
  const text = spec.kind === 'secret' ? el.value : el.value.trim();
  if (!text) return { value: undefined };
  if (spec.choices.length) {
    const chosen = spec.choices.find((c) => String(c.value) === text);
    return chosen ? { value: chosen.value } : { problem: 'must be one of the listed choices' };
  }
  switch (spec.kind) {
    case 'integer':
      return /^[-+]?\d+$/.test(text) ? { value: Number(text) } : { problem: numberRule(spec) };
    case 'number':
      return text !== '' && Number.isFinite(Number(text)) ? { value: Number(text) } : { problem: numberRule(spec) };
    case 'json':
      try {
        const parsed = JSON.parse(text);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return { value: parsed };
        return { problem: 'must be a JSON object: { … }' };
      } catch (e) {
        return { problem: `is not valid JSON (${e instanceof Error ? e.message : e})` };
      }
    default:
      return { value: text };
  }
}

/** The rule a number field follows, worded as the API words it. @param {DeclaredField} spec */
function numberRule(spec) {
  const noun = spec.kind === 'integer' ? 'a whole number' : 'a number';
  const fmt = (/** @type {number} */ n) => n.toLocaleString('en-US');
  const { minimum: low, maximum: high } = spec;
  if (low !== null && high !== null) return `must be ${noun} from ${fmt(low)} to ${fmt(high)}`;
  if (low !== null) return `must be ${noun} of at least ${fmt(low)}`;
  if (high !== null) return `must be ${noun} of at most ${fmt(high)}`;
  return `must be ${noun}`;
}

/** The value under a dotted key. @param {Record<string, unknown>} values @param {string} key */
export function valueAt(values, key) {
  /** @type {any} */
  let current = values;
  for (const part of key.split('.')) {
    if (!current || typeof current !== 'object') return undefined;
    current = current[part];
  }
  return current ?? undefined;
}

/** Sets a dotted key's value, creating the objects on the way. @param {Record<string, any>} values @param {string} key @param {unknown} value */
function setAt(values, key, value) {
  const parts = key.split('.');
  const last = /** @type {string} */ (parts.pop());
  let node = values;
  for (const part of parts) {
    if (!node[part] || typeof node[part] !== 'object') node[part] = {};
    node = node[part];
  }
  node[last] = value;
}

/** The top-level keys the declared fields fill (`oauth` for `oauth.clientId`). @param {readonly DeclaredField[]} specs */
export function topKeys(specs) {
  return new Set(specs.map((s) => s.key.split('.')[0]));
}

/**
 * A type's credentials: the declared ways to sign in, a choice among them when there are
 * several, and one JSON object when the type declares none. A field that several ways share
 * (a tenant ID) is one input, kept while switching; only the chosen way's fields show.
 * Editing, empty fields keep the stored credentials (they are never shown again).
 * @param {SourceType | undefined} type
 * @param {{editing: boolean}} options
 */
export function credentialsSection(type, { editing }) {
  const variants = type?.credentialVariants ?? [];
  const box = h('fieldset', { class: 'credentials' }, h('legend', null, 'Credentials'));
  if (editing) box.append(h('p', { class: 'hint' }, 'Credentials are stored encrypted and never shown again. Leave them empty to keep the stored ones.'));
  if (!variants.length) {
    box.append(field({
      label: 'Credentials (JSON)', field: 'credentials', type: 'textarea',
      hint: 'The object this source type expects, e.g. { "token": "…" }.', attrs: { rows: 4, spellcheck: 'false' },
    }));
    return { element: box, read: readJsonCredentials };
  }
  /** @type {Map<string, {spec: DeclaredField, variants: string[]}>} */
  const union = new Map();
  for (const variant of variants) {
    for (const spec of variant.fields) {
      const entry = union.get(spec.key) ?? { spec, variants: [] };
      entry.variants.push(variant.key);
      union.set(spec.key, entry);
    }
  }
  const inputs = [...union.values()].map(({ spec, variants: keys }) => {
    const wrapper = declaredField('credentials', spec);
    wrapper.dataset.variants = keys.join(' ');
    return { spec, wrapper };
  });
  const help = h('p', { class: 'hint variant-help' });
  const advanced = h('details', { class: 'advanced' }, h('summary', null, 'Advanced'), inputs.filter((i) => i.spec.advanced).map((i) => i.wrapper));
  let chosen = variants[0];
  const show = () => {
    for (const { wrapper } of inputs) wrapper.hidden = !(wrapper.dataset.variants ?? '').split(' ').includes(chosen.key);
    help.textContent = chosen.help;
    help.hidden = !chosen.help;
    advanced.hidden = !chosen.fields.some((s) => s.advanced);
  };
  if (variants.length > 1) {
    const name = newId('variant');
    const choice = h('fieldset', { class: 'variants' }, h('legend', null, 'How to sign in'),
      variants.map((variant, index) => {
        const id = `${name}-${index}`;
        return h('div', { class: 'check' },
          h('input', { type: 'radio', id, name, value: variant.key, checked: index === 0 }),
          h('label', { for: id }, variant.label));
      }));
    choice.addEventListener('change', (event) => {
      chosen = variants.find((v) => v.key === /** @type {HTMLInputElement} */ (event.target).value) ?? variants[0];
      show();
    });
    box.append(choice);
  }
  box.append(help, ...inputs.filter((i) => !i.spec.advanced).map((i) => i.wrapper), advanced);
  show();
  /** @param {HTMLElement} form @param {ErrorDetail[]} problems */
  const read = (form, problems) => {
    const values = declaredValues(form, 'credentials', chosen.fields, problems);
    return editing && !Object.keys(values).length ? undefined : values;
  };
  return { element: box, read };
}

/**
 * @param {HTMLElement} form @param {ErrorDetail[]} problems
 * @returns {Record<string, unknown> | undefined}
 */
function readJsonCredentials(form, problems) {
  const el = control(form, 'credentials');
  const text = el?.value.trim();
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
    problems.push({ field: 'credentials', message: 'must be a JSON object: { … }' });
  } catch (e) {
    problems.push({ field: 'credentials', message: `is not valid JSON (${e instanceof Error ? e.message : e})` });
  }
  return undefined;
}
