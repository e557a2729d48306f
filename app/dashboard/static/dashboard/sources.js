// @ts-check
// Data sources: the list with "Test connection", and the create/edit form per type.

import { h, notice, timeEl, confirmAction, announce } from './dom.js';
import { field, form, onSubmit, valueOf, jsonOf, sentence } from './forms.js';
import { readableName } from './field-names.js';
import { loadSourceTypes, settingNames, typeNames } from './source-types.js';
import { credentialsSection, declaredFields, declaredValues, topKeys } from './declared-fields.js';
import { connectionFacts } from './connection-facts.js';
import { credentialBanner, credentialFact } from './credential-banner.js';

/** @import { DataSource, DataSourceCreate, DataSourceUpdate, ErrorDetail } from '../../client/datasync.js' */
/** @import { ViewContext } from './app.js' */
/** @import { SourceType } from './source-types.js' */
/** @typedef {{type: ReturnType<typeof typeNames>, setting: ReturnType<typeof settingNames>}} Names */

/** @param {ViewContext} ctx */
export async function sourcesView(ctx) {
  const { dataSources, totalCount } = await ctx.client.listDataSources({ limit: 200 }, { signal: ctx.signal });
  const names = { type: typeNames(ctx.client), setting: settingNames(ctx.client) };
  const list = h('ul', { class: 'cards', 'aria-label': 'Data sources' });
  for (const source of dataSources) list.append(sourceCard(ctx, source, names));
  return [
    h('div', { class: 'view-head' },
      h('h1', null, 'Data sources'),
      h('a', { class: 'button primary', href: '#/sources/new' }, 'New data source')),
    h('p', { class: 'muted' }, 'Connections and credentials that schedules read from. Credentials are encrypted at rest and never shown again.'),
    credentialBanner(dataSources),
    totalCount ? list : notice('info', 'No data sources yet. ', h('a', { href: '#/sources/new' }, 'Connect your first one'), '.'),
  ];
}

/** @param {ViewContext} ctx @param {DataSource} source @param {Names} names */
function sourceCard(ctx, source, names) {
  const result = h('div', { class: 'test-result', role: 'status', 'aria-live': 'polite' });
  const titleId = `source-${source.id}`;
  const testButton = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', onclick: () => testConnection(ctx, source, testButton, result) }, 'Test connection'));
  const fact = credentialFact(source);
  const checkButton = /** @type {HTMLButtonElement} */ (h('button', {
    type: 'button', 'aria-label': `Check the credentials of ${source.name}`,
    onclick: () => checkCredentials(ctx, source, { button: checkButton, fact, result }),
  }, 'Check credentials'));
  const settings = Object.entries(source.settings || {});
  const card = h('li', { class: 'card', 'aria-labelledby': titleId, dataset: { sourceId: source.id } },
    h('div', { class: 'card-head' },
      h('h2', { id: titleId }, source.name),
      h('span', { class: 'tag' }, names.type(source.type))),
    h('dl', { class: 'facts' },
      h('div', null, h('dt', null, 'Credentials'), h('dd', null, source.hasCredentials ? 'Stored (encrypted)' : 'None')),
      fact,
      settings.length
        ? h('div', null, h('dt', null, 'Settings'), h('dd', null, settings.map(([k, v]) => h('span', { class: 'kv', dataset: { setting: k } },
          names.setting(source.type, k), ': ', h('code', null, typeof v === 'string' ? v : JSON.stringify(v))))))
        : null,
      h('div', null, h('dt', null, 'Updated'), h('dd', null, timeEl(source.updatedAt)))),
    h('div', { class: 'actions' },
      testButton,
      checkButton,
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
    result.replaceChildren(h('div', { class: 'notice notice-success' },
      h('p', null, h('strong', null, `✓ ${answer.message}`)),
      connectionFacts(answer.details || {})));
  } catch (/** @type {any} */ e) {
    if (e.handled) return;
    result.replaceChildren(h('div', { class: 'notice notice-error' },
      h('p', null, h('strong', null, '✗ Connection failed: '), e.message),
      e.details?.length ? h('ul', null, e.details.map((/** @type {ErrorDetail} */ d) => h('li', null, sentence(readableName(d.field), d.message)))) : null));
  } finally {
    button.disabled = false;
    announce(result.textContent);
  }
}

const CHECKED = /** @type {const} */ ({
  ok: ['success', '✓ The credentials work.'],
  expiring: ['warning', '⚠ The credentials work but expire soon: '],
  failed: ['error', '✗ The credentials were rejected: '],
});

/**
 * Runs the credentials check now (the daily one, on a worker) and shows its outcome in the
 * card; a rejection also names the fix, as the banner does.
 * @param {ViewContext} ctx @param {DataSource} source
 * @param {{button: HTMLButtonElement, fact: HTMLElement, result: HTMLElement}} parts
 */
async function checkCredentials(ctx, source, { button, fact, result }) {
  button.disabled = true;
  result.replaceChildren(h('p', { class: 'muted' }, 'Checking the credentials…'));
  try {
    const { credentialStatus } = await ctx.client.checkDataSourceCredentials(source.id);
    fact.replaceWith(credentialFact({ ...source, credentialStatus }));
    const { status, message } = credentialStatus;
    if (!status) {
      result.replaceChildren(notice('info', 'This type of source has no credentials check; use “Test connection”.'));
      return;
    }
    const [kind, text] = CHECKED[status];
    result.replaceChildren(h('div', { class: `notice notice-${kind}` },
      h('p', null, h('strong', null, text), status === 'ok' ? null : message ?? ''),
      status === 'failed'
        ? h('p', null, h('a', { href: `#/sources/${source.id}/edit` }, 'Update the credentials'))
        : null));
  } catch (/** @type {any} */ e) {
    if (!e.handled) result.replaceChildren(notice('error', e.message));
  } finally {
    button.disabled = false;
    announce(result.textContent);
  }
}

/** @param {ViewContext} ctx */
export async function sourceFormView(ctx) {
  const [id] = ctx.params;
  const [existing, catalog] = await Promise.all([
    id ? ctx.client.getDataSource(id, { signal: ctx.signal }).then((b) => b.dataSource) : null,
    loadSourceTypes(ctx.client),
  ]);
  const settings = existing?.settings || {};

  const typeSection = h('div');
  const credentialsBox = h('div');
  const settingsBox = h('fieldset', null);
  const advanced = h('details', { class: 'advanced' });

  const el = form({ class: 'card', 'aria-labelledby': 'source-form-title' },
    field({ label: 'Name', field: 'name', value: existing?.name, required: true, hint: 'How schedules and people will know it, e.g. “Sales spreadsheet”.' }),
    typeSection, credentialsBox, settingsBox, advanced,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, existing ? 'Save changes' : 'Create data source'),
      h('a', { class: 'button', href: '#/sources' }, 'Cancel')));

  let chosen = existing?.type ?? catalog.types.find((t) => t.available)?.type ?? '';
  if (existing) {
    typeSection.append(h('p', null, 'Type: ', h('strong', null, catalog.label(existing.type))));
  } else {
    const unavailable = catalog.types.filter((t) => !t.available);
    const choice = field({
      label: 'Type', field: 'type', type: 'select', value: chosen, required: true,
      options: catalog.types.map((t) => /** @type {[string, string]} */ ([t.type, t.available ? t.displayName : `${t.displayName} (not available)`])),
    });
    for (const t of unavailable) {
      /** @type {HTMLOptionElement} */ (choice.querySelector(`option[value="${CSS.escape(t.type)}"]`)).disabled = true;
    }
    typeSection.append(choice, unavailable.length ? unavailableNote(unavailable) : '');
    const select = /** @type {HTMLSelectElement} */ (choice.querySelector('select'));
    select.addEventListener('change', () => {
      chosen = select.value;
      renderTypeFields();
    });
  }

  /** @type {ReturnType<typeof credentialsSection>} */
  let credentials = credentialsSection(undefined, { editing: Boolean(existing) });
  function renderTypeFields() {
    const type = catalog.usable(chosen);
    credentials = credentialsSection(type, { editing: Boolean(existing) });
    credentialsBox.replaceChildren(credentials.element);
    settingsBox.replaceChildren(h('legend', null, 'Settings'));
    advanced.replaceChildren(h('summary', null, 'Advanced settings'));
    const declared = type?.settings ?? [];
    const { main, advanced: folded } = declaredFields('settings', declared, settings);
    settingsBox.append(...main);
    advanced.append(...folded);
    const known = topKeys(declared);
    const extra = Object.fromEntries(Object.entries(settings).filter(([k]) => !known.has(k)));
    const extraField = field({
      label: type ? 'Other settings (JSON)' : 'Settings (JSON)', field: 'settings', type: 'textarea',
      value: Object.keys(extra).length ? JSON.stringify(extra, null, 2) : '',
      hint: type ? 'Optional: settings the fields above do not list, as one JSON object.' : 'Optional. Defaults for schedules that use this source, as one JSON object.',
      attrs: { rows: 3, spellcheck: 'false' },
    });
    (declared.length ? advanced : settingsBox).append(extraField);
    settingsBox.hidden = settingsBox.children.length === 1; // only its legend
  }
  renderTypeFields();

  onSubmit(el, async () => {
    const type = catalog.usable(chosen);
    /** @type {ErrorDetail[]} */
    const problems = [];
    const creds = credentials.read(el, problems);
    const typed = declaredValues(el, 'settings', type?.settings ?? [], problems);
    let extra = {};
    try {
      extra = jsonOf(el, 'settings', 'Check the settings') || {};
    } catch (/** @type {any} */ e) {
      problems.push(...e.details);
    }
    if (problems.length) throw { message: 'Check the fields marked below.', details: problems };
    /** @type {DataSourceUpdate & {name: string, settings: Record<string, unknown>}} */
    const body = { name: valueOf(el, 'name'), settings: { ...extra, ...typed } };
    if (existing) {
      // Keys emptied in the form are removed (null), the rest merged key by key.
      for (const key of Object.keys(settings)) if (!(key in body.settings)) body.settings[key] = null;
      if (creds) body.credentials = creds;
      await ctx.client.updateDataSource(existing.id, body);
      ctx.navigate('#/sources', `Data source “${body.name}” saved.`);
    } else {
      // The select offers the server's own types only.
      const type = /** @type {DataSourceCreate['type']} */ (chosen);
      await ctx.client.createDataSource({ ...body, type, credentials: creds ?? {} });
      ctx.navigate('#/sources', `Data source “${body.name}” created. Use “Test connection” to check it.`);
    }
  });

  const title = existing ? `Edit data source “${existing.name}”` : 'New data source';
  return [h('h1', { id: 'source-form-title' }, title), el];
}

/** Types installed but not loadable here, with the server's reason. @param {SourceType[]} types */
function unavailableNote(types) {
  return h('div', { class: 'notice notice-warning unavailable-types' },
    h('p', null, 'Not available on this server:'),
    h('ul', null, types.map((t) => h('li', null, h('strong', null, t.displayName), ` — ${t.unavailableReason || 'it cannot be loaded'}`))));
}
