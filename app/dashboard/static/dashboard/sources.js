// @ts-check
// Data sources: the list with "Test connection", and the create/edit form per type.

import { h, notice, timeEl, confirmAction, announce } from './dom.js';
import { field, form, onSubmit, valueOf, jsonOf } from './forms.js';
import { SOURCE_TYPES, typeLabel, collect } from './source-types.js';

/** @import { DataSource, DataSourceUpdate, ErrorDetail } from '../../client/datasync.js' */
/** @import { ViewContext } from './app.js' */
/** @import { FieldSpec } from './source-types.js' */

const OTHER = '__other__';

/** @param {ViewContext} ctx */
export async function sourcesView(ctx) {
  const { dataSources, totalCount } = await ctx.client.listDataSources({ limit: 200 }, { signal: ctx.signal });
  const list = h('ul', { class: 'cards', 'aria-label': 'Data sources' });
  for (const source of dataSources) list.append(sourceCard(ctx, source));
  return [
    h('div', { class: 'view-head' },
      h('h1', null, 'Data sources'),
      h('a', { class: 'button primary', href: '#/sources/new' }, 'New data source')),
    h('p', { class: 'muted' }, 'Connections and credentials that schedules read from. Credentials are encrypted at rest and never shown again.'),
    totalCount ? list : notice('info', 'No data sources yet. ', h('a', { href: '#/sources/new' }, 'Connect your first one'), '.'),
  ];
}

/** @param {ViewContext} ctx @param {DataSource} source */
function sourceCard(ctx, source) {
  const result = h('div', { class: 'test-result', role: 'status', 'aria-live': 'polite' });
  const titleId = `source-${source.id}`;
  const testButton = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', onclick: () => testConnection(ctx, source, testButton, result) }, 'Test connection'));
  const settings = Object.entries(source.settings || {});
  const card = h('li', { class: 'card', 'aria-labelledby': titleId, dataset: { sourceId: source.id } },
    h('div', { class: 'card-head' },
      h('h2', { id: titleId }, source.name),
      h('span', { class: 'tag' }, typeLabel(source.type))),
    h('dl', { class: 'facts' },
      h('div', null, h('dt', null, 'Credentials'), h('dd', null, source.hasCredentials ? 'Stored (encrypted)' : 'None')),
      settings.length
        ? h('div', null, h('dt', null, 'Settings'), h('dd', null, settings.map(([k, v]) => h('code', { class: 'kv' }, `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`))))
        : null,
      h('div', null, h('dt', null, 'Updated'), h('dd', null, timeEl(source.updatedAt)))),
    h('div', { class: 'actions' },
      testButton,
      h('a', { class: 'button', href: `#/sources/${source.id}/edit`, 'aria-label': `Edit ${source.name}` }, 'Edit'),
      h('button', {
        type: 'button', class: 'danger', 'aria-label': `Delete ${source.name}`,
        onclick: async () => {
          if (!(await confirmAction(`Delete the data source “${source.name}”? Its stored credentials are destroyed.`))) return;
          try {
            await ctx.client.deleteDataSource(source.id);
            ctx.navigate('#/sources', `Data source “${source.name}” deleted.`);
          } catch (/** @type {any} */ e) {
            if (!e.handled) result.replaceChildren(notice('error', e.message));
          }
        },
      }, 'Delete')),
    result);
  return card;
}

/** @param {ViewContext} ctx @param {DataSource} source @param {HTMLButtonElement} button @param {HTMLElement} result */
async function testConnection(ctx, source, button, result) {
  button.disabled = true;
  result.replaceChildren(h('p', { class: 'muted' }, 'Testing the connection…'));
  try {
    const answer = await ctx.client.testDataSource(source.id);
    const details = Object.entries(answer.details || {});
    result.replaceChildren(h('div', { class: 'notice notice-success' },
      h('p', null, h('strong', null, `✓ ${answer.message}`)),
      details.length ? h('dl', { class: 'facts compact' }, details.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v === null ? '—' : typeof v === 'string' ? v : JSON.stringify(v))))) : null));
  } catch (/** @type {any} */ e) {
    if (e.handled) return;
    result.replaceChildren(h('div', { class: 'notice notice-error' },
      h('p', null, h('strong', null, '✗ Connection failed: '), e.message),
      e.details?.length ? h('ul', null, e.details.map((/** @type {ErrorDetail} */ d) => h('li', null, `${d.field}: ${d.message}`))) : null));
  } finally {
    button.disabled = false;
    announce(result.textContent);
  }
}

/** @param {string} prefix @param {FieldSpec} spec @param {unknown} [value] */
function specField(prefix, spec, value) {
  const type = spec.type === 'json' ? 'textarea' : spec.type || 'text';
  const shown = spec.type === 'json' && value !== undefined ? JSON.stringify(value, null, 2) : value;
  return field({
    label: spec.label, field: `${prefix}.${spec.key}`, type, value: shown, hint: spec.hint,
    options: spec.options, attrs: { ...(spec.type === 'json' ? { spellcheck: 'false' } : {}), ...spec.attrs },
  });
}

/** @param {ViewContext} ctx */
export async function sourceFormView(ctx) {
  const [id] = ctx.params;
  const existing = id ? (await ctx.client.getDataSource(id, { signal: ctx.signal })).dataSource : null;
  const settings = existing?.settings || {};
  const initialType = existing ? (SOURCE_TYPES[existing.type] ? existing.type : OTHER) : 'google-sheets';

  const typeSection = h('div');
  const credentials = h('fieldset', null);
  const settingsBox = h('fieldset', null);
  const advanced = h('details', { class: 'advanced' });

  const el = form({ class: 'card', 'aria-labelledby': 'source-form-title' },
    field({ label: 'Name', field: 'name', value: existing?.name, hint: 'How schedules and people will know it, e.g. “Sales spreadsheet”.' }),
    typeSection, credentials, settingsBox, advanced,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, existing ? 'Save changes' : 'Create data source'),
      h('a', { class: 'button', href: '#/sources' }, 'Cancel')));

  let chosen = initialType;
  if (existing) {
    typeSection.append(h('p', null, 'Type: ', h('strong', null, typeLabel(existing.type))));
  } else {
    const choice = field({
      label: 'Type', field: 'sourceType', type: 'select', value: chosen,
      options: [...Object.entries(SOURCE_TYPES).map(([k, t]) => /** @type {[string, string]} */ ([k, t.label])), [OTHER, 'Other (plugin) type…']],
    });
    const custom = h('div', { hidden: chosen !== OTHER }, field({ label: 'Type name', field: 'type', hint: 'The name a source plugin registers, e.g. “test-table”.' }));
    typeSection.append(choice, custom);
    const select = /** @type {HTMLSelectElement} */ (choice.querySelector('select'));
    select.addEventListener('change', () => {
      chosen = select.value;
      custom.hidden = chosen !== OTHER;
      renderTypeFields();
    });
  }

  function renderTypeFields() {
    const spec = SOURCE_TYPES[chosen];
    const keepHint = existing ? 'Leave the credentials empty to keep the stored ones.' : null;
    credentials.replaceChildren(h('legend', null, 'Credentials'), keepHint ? h('p', { class: 'hint' }, keepHint) : '');
    settingsBox.replaceChildren(h('legend', null, 'Settings'));
    advanced.replaceChildren(h('summary', null, 'Advanced settings'));
    const known = new Set();
    if (spec) {
      for (const s of spec.credentials) credentials.append(specField('credentials', s));
      if (chosen === 'google-sheets') credentials.append(keyFileLoader(credentials));
      for (const s of spec.settings) {
        known.add(s.key);
        (s.advanced ? advanced : settingsBox).append(specField('settings', s, settings[s.key]));
      }
    } else {
      credentials.append(field({ label: 'Credentials (JSON)', field: 'credentials', type: 'textarea', hint: 'The object the source type expects, e.g. { "token": "…" }.', attrs: { rows: 4, spellcheck: 'false' } }));
    }
    const extra = Object.fromEntries(Object.entries(settings).filter(([k]) => !known.has(k)));
    const extraField = field({
      label: spec ? 'Other settings (JSON)' : 'Settings (JSON)', field: 'settings', type: 'textarea',
      value: Object.keys(extra).length ? JSON.stringify(extra, null, 2) : '',
      hint: 'Optional. Defaults for schedules that use this source, e.g. { "spreadsheetId": "…", "sheetName": "Sales" }.',
      attrs: { rows: 3, spellcheck: 'false' },
    });
    (spec ? advanced : settingsBox).append(extraField);
    settingsBox.hidden = settingsBox.children.length === 1; // only its legend
  }
  renderTypeFields();

  onSubmit(el, async () => {
    const spec = SOURCE_TYPES[chosen];
    const creds = spec ? collect(el, 'credentials', spec.credentials) : jsonOf(el, 'credentials', 'Check the credentials') || {};
    const extra = jsonOf(el, 'settings', 'Check the settings') || {};
    const typed = spec ? collect(el, 'settings', spec.settings) : {};
    /** @type {DataSourceUpdate & {name: string, settings: Record<string, unknown>}} */
    const body = { name: valueOf(el, 'name'), settings: { ...extra, ...typed } };
    if (existing) {
      // Keys emptied in the form are removed (null), the rest merged key by key.
      for (const key of Object.keys(settings)) if (!(key in body.settings)) body.settings[key] = null;
      if (Object.keys(creds).length) body.credentials = creds;
      await ctx.client.updateDataSource(existing.id, body);
      ctx.navigate('#/sources', `Data source “${body.name}” saved.`);
    } else {
      const type = chosen === OTHER ? valueOf(el, 'type') : chosen;
      await ctx.client.createDataSource({ ...body, type, credentials: creds });
      ctx.navigate('#/sources', `Data source “${body.name}” created. Use “Test connection” to check it.`);
    }
  });

  const title = existing ? `Edit data source “${existing.name}”` : 'New data source';
  return [h('h1', { id: 'source-form-title' }, title), el];
}

/** "Or load the key file": reads a downloaded JSON key into the textarea, nothing uploaded. @param {HTMLElement} container */
function keyFileLoader(container) {
  const input = /** @type {HTMLInputElement} */ (h('input', { type: 'file', id: 'key-file', accept: 'application/json,.json' }));
  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    if (!file) return;
    const area = /** @type {HTMLTextAreaElement} */ (container.querySelector('[data-field="credentials.serviceAccountInfo"] textarea'));
    area.value = await file.text();
    announce(`Loaded ${file.name}`);
  });
  return h('div', { class: 'field' }, h('label', { for: 'key-file' }, 'Or load the key file'), input);
}
