// @ts-check
// Schedules: the list (status, last/next run, rows, Sync now, enable/disable, delete) and the
// create/edit form (frequency, time, weekday, time zone, the source's selection).

import { h, notice, timeEl, num, statusBadge, confirmAction, announce } from './dom.js';
import { field, form, onSubmit, valueOf, jsonOf, clearErrors, showErrors } from './forms.js';
import { loadSourceTypes, typeNames } from './source-types.js';
import { declaredFields, declaredValues, topKeys } from './declared-fields.js';
import { syncNowControl } from './sync-now.js';
import { previewPanel } from './preview.js';

/** @import { ErrorDetail, Frequency, Schedule, ScheduleConfig, ScheduleQuery } from '../../client/datasync.js' */
/** @import { ViewContext } from './app.js' */
/** @typedef {ReturnType<typeof typeNames>} TypeName */

const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const TIMING_KEYS = ['minute', 'syncTime', 'dayOfWeek', 'timezone'];
const OPTION_KEYS = ['primaryKey', 'headerRow', 'maxRowDropPercent', 'changeDetection', 'fullRefreshHours'];
const capital = (/** @type {string} */ s) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * A schedule's stored config: the one its create or update was accepted with.
 * @param {Schedule} schedule
 * @returns {ScheduleConfig}
 */
function configOf(schedule) {
  return schedule.config || {};
}

/** "Daily at 06:00 (Europe/Berlin)" @param {Schedule} schedule */
export function cadenceText(schedule) {
  const c = configOf(schedule);
  const zone = c.timezone || 'UTC';
  if (schedule.frequency === 'hourly') return `Hourly at :${String(c.minute ?? 0).padStart(2, '0')} (${zone})`;
  const time = c.syncTime || '00:00';
  if (schedule.frequency === 'weekly') return `Weekly on ${capital(c.dayOfWeek || 'monday')} at ${time} (${zone})`;
  return `Daily at ${time} (${zone})`;
}

/** @param {ViewContext} ctx */
export async function schedulesView(ctx) {
  const query = new URLSearchParams(location.hash.split('?')[1] || '');
  const [{ schedules, totalCount }, sources, files] = await Promise.all([
    // The status comes from the page's address as typed; the API names a bad one.
    ctx.client.listSchedules({ limit: 200, status: /** @type {ScheduleQuery['status']} */ (query.get('status') || undefined), search: query.get('search') || undefined }, { signal: ctx.signal }),
    ctx.client.listDataSources({ limit: 1 }, { signal: ctx.signal }),
    ctx.client.listFiles({ limit: 1 }, { signal: ctx.signal }),
  ]);
  const typeName = typeNames(ctx.client);
  const list = h('ul', { class: 'cards', 'aria-label': 'Schedules' });
  for (const schedule of schedules) list.append(scheduleCard(ctx, schedule, typeName));
  const missing = [];
  if (!sources.totalCount) missing.push(h('a', { href: '#/sources/new' }, 'a data source'));
  if (!files.totalCount) missing.push(h('a', { href: '#/files' }, 'a target file'));
  const filtered = query.get('status') || query.get('search');
  return [
    h('div', { class: 'view-head' },
      h('h1', null, 'Schedules'),
      missing.length ? null : h('a', { class: 'button primary', href: '#/schedules/new' }, 'New schedule')),
    missing.length ? notice('info', 'To create a schedule, first add ', missing.flatMap((m, i) => (i ? [' and ', m] : [m])), '.') : null,
    totalCount || filtered ? filters(ctx, query) : null,
    totalCount ? list : notice('info', filtered ? 'No schedule matches these filters.' : 'No schedules yet.'),
  ];
}

/** @param {ViewContext} ctx @param {URLSearchParams} query */
function filters(ctx, query) {
  const el = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter schedules' },
    field({ label: 'Name contains', field: 'search', type: 'search', value: query.get('search') || '' }),
    field({ label: 'Last status', field: 'status', type: 'select', value: query.get('status') || '', options: [['', 'Any'], ['success', 'Success'], ['error', 'Failed'], ['running', 'Running'], ['never', 'Never run']] }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Filter')));
  el.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const key of ['search', 'status']) if (valueOf(el, key)) next.set(key, valueOf(el, key));
    ctx.navigate(`#/schedules${next.size ? `?${next}` : ''}`);
  });
  return el;
}

/** @param {ViewContext} ctx @param {Schedule} schedule @param {TypeName} typeName */
function scheduleCard(ctx, schedule, typeName) {
  const titleId = `schedule-${schedule.id}`;
  const head = h('div', { class: 'card-head' });
  const facts = h('dl', { class: 'facts' });
  const toggle = /** @type {HTMLButtonElement} */ (h('button', { type: 'button' }));
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const card = h('li', { class: 'card schedule', 'aria-labelledby': titleId, dataset: { scheduleId: schedule.id } });

  const render = (/** @type {Schedule} */ s) => {
    schedule = s;
    head.replaceChildren(
      h('h2', { id: titleId }, h('a', { href: `#/schedules/${s.id}` }, s.name)),
      h('span', { class: 'badges' }, statusBadge(s.lastSyncStatus), s.enabled ? null : h('span', { class: 'tag' }, 'Disabled')));
    facts.replaceChildren(...scheduleFacts(s, typeName));
    toggle.textContent = s.enabled ? 'Disable' : 'Enable';
    toggle.setAttribute('aria-label', `${s.enabled ? 'Disable' : 'Enable'} ${s.name}`);
  };
  const refresh = async () => render((await ctx.client.getSchedule(schedule.id)).schedule);
  const sync = syncNowControl(ctx, schedule, () => refresh().catch(() => {}));

  toggle.addEventListener('click', async () => {
    toggle.disabled = true;
    try {
      const { schedule: updated } = await ctx.client.updateSchedule(schedule.id, { enabled: !schedule.enabled });
      await refresh();
      announce(`${updated.name} is ${updated.enabled ? 'enabled' : 'disabled'}.`);
    } catch (/** @type {any} */ e) {
      if (!e.handled) status.replaceChildren(notice('error', e.message));
    } finally {
      toggle.disabled = false;
    }
  });
  render(schedule);
  card.append(head, facts,
    h('div', { class: 'actions' },
      sync.button,
      h('a', { class: 'button', href: `#/schedules/${schedule.id}`, 'aria-label': `History of ${schedule.name}` }, 'History'),
      h('a', { class: 'button', href: `#/schedules/${schedule.id}/edit`, 'aria-label': `Edit ${schedule.name}` }, 'Edit'),
      toggle,
      h('button', {
        type: 'button', class: 'danger', 'aria-label': `Delete ${schedule.name}`,
        onclick: async () => {
          if (!(await confirmAction(`Delete the schedule “${schedule.name}” and its history? The target file stays.`))) return;
          try {
            await ctx.client.deleteSchedule(schedule.id);
            ctx.navigate('#/schedules', `Schedule “${schedule.name}” deleted.`);
          } catch (/** @type {any} */ e) {
            if (!e.handled) status.replaceChildren(notice('error', e.message));
          }
        },
      }, 'Delete')),
    sync.region, status);
  return card;
}

/**
 * The facts every schedule view shows.
 * @param {Schedule} s @param {TypeName} typeName
 * @returns {HTMLElement[]}
 */
export function scheduleFacts(s, typeName) {
  const fact = (/** @type {string} */ term, /** @type {any[]} */ ...value) => h('div', { dataset: { fact: term.toLowerCase().replace(/ /g, '-') } }, h('dt', null, term), h('dd', null, ...value));
  return [
    fact('Source', s.dataSourceName, h('span', { class: 'muted' }, ' · ', typeName(s.dataSourceType))),
    fact('Target file', s.targetFileName),
    fact('When', cadenceText(s)),
    fact('Last run', timeEl(s.lastSyncAt, { empty: 'Never' })),
    fact('Next run', s.enabled ? timeEl(s.nextSyncAt, { relative: true }) : h('span', { class: 'muted' }, 'Disabled')),
    fact('Rows', num(s.lastSyncRowCount)),
    fact('Duration', s.lastSyncDuration || '—'),
    s.lastSyncStatus === 'error' && s.lastSyncError
      ? fact('Last error', h('span', { class: 'error-text' }, s.lastSyncError),
        // A failed run's automatic retry, when one is due.
        s.nextRetryAt ? h('span', { class: 'muted retry-at' }, ' · Retry at ', timeEl(s.nextRetryAt, { relative: true })) : null)
      : null,
  ].filter((f) => f !== null);
}

/** @param {ViewContext} ctx */
export async function scheduleFormView(ctx) {
  const [id] = ctx.params;
  const [existing, { dataSources }, { files }, catalog] = await Promise.all([
    id ? ctx.client.getSchedule(id, { signal: ctx.signal }).then((b) => b.schedule) : null,
    ctx.client.listDataSources({ limit: 200 }, { signal: ctx.signal }),
    ctx.client.listFiles({ limit: 200 }, { signal: ctx.signal }),
    loadSourceTypes(ctx.client),
  ]);
  if (!existing && (!dataSources.length || !files.length)) {
    return [h('h1', null, 'New schedule'), notice('info', 'First add a ', h('a', { href: '#/sources/new' }, 'data source'), ' and a ', h('a', { href: '#/files' }, 'target file'), '.')];
  }
  /** @type {ScheduleConfig} */
  const config = existing ? configOf(existing) : {};
  const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];

  const minute = h('div', null, field({ label: 'Minute past the hour', field: 'config.minute', type: 'number', value: config.minute ?? 0, hint: '0–59.', attrs: { inputmode: 'numeric', min: 0, max: 59 } }));
  const time = h('div', null, field({ label: 'Sync time', field: 'config.syncTime', value: config.syncTime ?? '06:00', hint: '24-hour HH:MM, in the time zone below.', attrs: { inputmode: 'numeric', placeholder: 'HH:MM', autocomplete: 'off' } }));
  const day = h('div', null, field({ label: 'Day of the week', field: 'config.dayOfWeek', type: 'select', value: config.dayOfWeek ?? 'monday', options: DAYS.map((d) => [d, capital(d)]) }));
  const selection = h('fieldset', { class: 'selection' });
  const options = h('details', { class: 'advanced' });
  const key = Array.isArray(config.primaryKey) ? config.primaryKey.join(', ') : config.primaryKey;

  const el = form({ class: 'card', 'aria-labelledby': 'schedule-form-title' },
    field({ label: 'Name', field: 'name', value: existing?.name, required: true, hint: 'e.g. “Sales data hourly sync”.' }),
    h('div', { class: 'grid' },
      field({ label: 'Data source', field: 'dataSourceId', type: 'select', value: existing?.dataSourceId ?? dataSources[0]?.id, options: dataSources.map((s) => [s.id, `${s.name} (${catalog.label(s.type)})`]) }),
      field({ label: 'Target file', field: 'targetFileId', type: 'select', value: existing?.targetFileId ?? files[0]?.id, options: files.map((f) => [f.id, f.name]) })),
    h('fieldset', null, h('legend', null, 'When'),
      h('div', { class: 'grid' },
        field({ label: 'Frequency', field: 'frequency', type: 'select', value: existing?.frequency ?? 'daily', options: [['hourly', 'Hourly'], ['daily', 'Daily'], ['weekly', 'Weekly']] }),
        minute, day, time,
        field({ label: 'Time zone', field: 'config.timezone', value: config.timezone ?? viewerZone, hint: 'IANA name, e.g. Europe/Berlin. Daylight saving is handled.', attrs: { list: 'time-zones', autocomplete: 'off' } }))),
    h('datalist', { id: 'time-zones' }, zones.map((z) => h('option', { value: z }))),
    selection,
    field({
      label: 'Primary key column(s)', field: 'config.primaryKey', value: key,
      hint: 'With a primary key, each run reports the rows added, changed and removed by key; without one, rows are compared whole. Comma-separate several columns.',
      attrs: { autocomplete: 'off', spellcheck: 'false' },
    }),
    options,
    field({ label: 'Enabled (runs on its schedule)', field: 'enabled', type: 'checkbox', value: existing ? existing.enabled : true }),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, existing ? 'Save changes' : 'Create schedule'),
      h('button', { type: 'button', class: 'preview-button' }, 'Preview'),
      h('a', { class: 'button', href: existing ? `#/schedules/${existing.id}` : '#/schedules' }, 'Cancel')));
  const previewSlot = h('div', { class: 'preview-slot', 'aria-live': 'polite' });

  const frequencySelect = /** @type {HTMLSelectElement} */ (el.querySelector('[data-field="frequency"] select'));
  const sourceSelect = /** @type {HTMLSelectElement} */ (el.querySelector('[data-field="dataSourceId"] select'));
  const showTiming = () => {
    const f = frequencySelect.value;
    minute.hidden = f !== 'hourly';
    time.hidden = f === 'hourly';
    day.hidden = f !== 'weekly';
  };
  const sourceType = () => dataSources.find((s) => s.id === sourceSelect.value)?.type;
  const renderSelection = () => {
    const type = sourceType();
    const declared = catalog.usable(type)?.selection;
    const known = new Set([...TIMING_KEYS, ...OPTION_KEYS, ...topKeys(declared ?? [])]);
    const rest = Object.fromEntries(Object.entries(config).filter(([k]) => !known.has(k)));
    const restText = Object.keys(rest).length ? JSON.stringify(rest, null, 2) : '';
    selection.replaceChildren(h('legend', null, `What to sync (${catalog.label(type)})`));
    const { main, advanced } = declaredFields('config', declared ?? [], /** @type {Record<string, unknown>} */ (config));
    if (declared) {
      selection.append(...main);
    } else {
      selection.append(field({ label: 'Selection (JSON)', field: 'config', type: 'textarea', value: restText, hint: 'The keys this source type reads, e.g. { "path": "/data/sales.csv" }. Empty uses the data source\'s defaults.', attrs: { rows: 4, spellcheck: 'false' } }));
    }
    options.replaceChildren(h('summary', null, 'Advanced'),
      ...advanced,
      field({ label: 'Header row', field: 'config.headerRow', type: 'number', value: config.headerRow, hint: 'Default 1.', attrs: { inputmode: 'numeric', min: 1 } }),
      field({ label: 'Safety hold: maximum row drop (%)', field: 'config.maxRowDropPercent', type: 'number', value: config.maxRowDropPercent, hint: 'Default 50: a sync that loses more rows than this leaves the CSV untouched.', attrs: { inputmode: 'numeric', min: 0, max: 100 } }),
      field({ label: 'Change detection', field: 'config.changeDetection', type: 'select', value: config.changeDetection ?? '', options: [['', 'Auto (default): skip the fetch when the source reports no change'], ['off', 'Off: always fetch']] }),
      field({ label: 'Full refresh at least every (hours)', field: 'config.fullRefreshHours', type: 'number', value: config.fullRefreshHours, hint: 'Default 24: with change detection, a full fetch at least this often catches changes the source cannot report (volatile formulas such as NOW()).', attrs: { inputmode: 'numeric', min: 1, max: 720 } }),
      declared ? field({ label: 'Other options (JSON)', field: 'config', type: 'textarea', value: restText, attrs: { rows: 2, spellcheck: 'false' } }) : '');
  };
  frequencySelect.addEventListener('change', showTiming);
  sourceSelect.addEventListener('change', renderSelection);
  showTiming();
  renderSelection();

  /** The form as the API takes it; throws field problems as the API would. */
  const formBody = () => {
    /** @type {ErrorDetail[]} */
    const problems = [];
    const declared = catalog.usable(sourceType())?.selection ?? [];
    let rest = {};
    try {
      rest = jsonOf(el, 'config', 'Check the selection') || {};
    } catch (/** @type {any} */ e) {
      problems.push(...e.details);
    }
    /** @type {Record<string, unknown>} */
    const next = { ...rest, ...declaredValues(el, 'config', declared, problems) };
    if (problems.length) throw { message: 'Check the fields marked below.', details: problems };
    const numeric = (/** @type {string} */ v) => (/^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v);
    for (const key of ['minute', 'headerRow', 'maxRowDropPercent', 'fullRefreshHours']) {
      const v = valueOf(el, `config.${key}`);
      if (v) next[key] = numeric(v);
    }
    for (const key of ['syncTime', 'dayOfWeek', 'timezone', 'changeDetection']) {
      const v = valueOf(el, `config.${key}`);
      if (v) next[key] = v;
    }
    const pk = valueOf(el, 'config.primaryKey');
    if (pk) {
      const cols = pk.split(',').map((/** @type {string} */ c) => c.trim()).filter(Boolean);
      next.primaryKey = cols.length === 1 ? cols[0] : cols;
    }
    const body = {
      name: valueOf(el, 'name'),
      dataSourceId: sourceSelect.value,
      targetFileId: /** @type {HTMLSelectElement} */ (el.querySelector('[data-field="targetFileId"] select')).value,
      // The select offers the API's frequencies only.
      frequency: /** @type {Frequency} */ (frequencySelect.value),
      enabled: valueOf(el, 'enabled'),
      config: next,
    };
    return body;
  };

  const previewButton = /** @type {HTMLButtonElement} */ (el.querySelector('.preview-button'));
  previewButton.addEventListener('click', async () => {
    clearErrors(el);
    previewButton.disabled = true;
    previewSlot.setAttribute('aria-busy', 'true');
    previewSlot.replaceChildren(h('p', null, 'Fetching a preview from the source…'));
    try {
      const { dataSourceId, targetFileId, frequency, config: draft } = formBody();
      const { preview } = await ctx.client.preview({ dataSourceId, targetFileId, frequency, config: draft }, { signal: ctx.signal });
      previewSlot.replaceChildren(previewPanel(preview));
    } catch (error) {
      const e = /** @type {any} */ (error);
      previewSlot.replaceChildren();
      if (e && e.status === 401 && e.handled) return;
      showErrors(el, { message: e?.message || String(e), details: e?.details || [] });
    } finally {
      previewButton.disabled = false;
      previewSlot.removeAttribute('aria-busy');
    }
  });

  onSubmit(el, async () => {
    const body = formBody();
    const next = body.config;
    if (existing) {
      // PUT merges config key by key: keys no longer in the form are removed with null.
      for (const key of Object.keys(config)) if (!(key in next)) next[key] = null;
      await ctx.client.updateSchedule(existing.id, body);
      ctx.navigate(`#/schedules/${existing.id}`, `Schedule “${body.name}” saved.`);
    } else {
      const { schedule } = await ctx.client.createSchedule(body);
      ctx.navigate('#/schedules', `Schedule “${schedule.name}” created.`);
    }
  });

  return [h('h1', { id: 'schedule-form-title' }, existing ? `Edit “${existing.name}”` : 'New schedule'), el, previewSlot];
}
