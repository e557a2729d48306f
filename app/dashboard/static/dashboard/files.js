// @ts-check
// Target files: create, download the CSV (fetched by the API client, saved from a blob), versions.

import { h, notice, timeEl, num, bytes, confirmAction, saveResponse, announce } from './dom.js';
import { field, form, onSubmit, valueOf } from './forms.js';

/** @import { TargetFile, TargetFileCreate } from '../../client/datasync.js' */
/** @import { ViewContext } from './app.js' */

/** @param {ViewContext} ctx */
export async function filesView(ctx) {
  const { files, totalCount } = await ctx.client.listFiles({ limit: 200 }, { signal: ctx.signal });
  const list = h('ul', { class: 'cards', 'aria-label': 'Target files' });
  for (const file of files) list.append(fileCard(ctx, file));
  return [
    h('h1', null, 'Target files'),
    h('p', { class: 'muted' }, 'The CSV files schedules write. The last versions are kept, so a bad sync can be inspected.'),
    createForm(ctx),
    h('h2', { class: 'section' }, 'Your files'),
    totalCount ? list : notice('info', 'No files yet: create one above.'),
  ];
}

/** @param {ViewContext} ctx */
function createForm(ctx) {
  const el = form({ class: 'card', 'aria-labelledby': 'new-file-title' },
    h('h2', { id: 'new-file-title' }, 'New file'),
    h('div', { class: 'grid' },
      field({ label: 'File name', field: 'name', value: '', hint: 'e.g. sales-data.csv', attrs: { required: true } }),
      field({ label: 'Delimiter', field: 'delimiter', type: 'select', value: ',', options: [[',', 'Comma ,'], [';', 'Semicolon ;'], ['\t', 'Tab'], ['|', 'Pipe |']] }),
      field({ label: 'Encoding', field: 'encoding', type: 'select', value: 'utf-8', options: [['utf-8', 'UTF-8'], ['utf-8-sig', 'UTF-8 with BOM (for Excel)']] })),
    field({ label: 'First row is a header', field: 'header', type: 'checkbox', value: true }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create file')));
  onSubmit(el, async () => {
    // Read untrimmed (a tab is whitespace); the select offers the API's delimiters only.
    const delimiter = /** @type {TargetFileCreate['delimiter']} */ (/** @type {HTMLSelectElement} */ (el.querySelector('[name=delimiter]')).value);
    const { file } = await ctx.client.createFile({
      name: valueOf(el, 'name'), delimiter, encoding: valueOf(el, 'encoding'), header: valueOf(el, 'header'),
    });
    ctx.navigate('#/files', `File “${file.name}” created.`);
  });
  return el;
}

/** @param {ViewContext} ctx @param {TargetFile} file */
function fileCard(ctx, file) {
  const titleId = `file-${file.id}`;
  const versions = h('div', { class: 'versions' });
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const versionsButton = h('button', { type: 'button', 'aria-expanded': 'false', 'aria-controls': `${titleId}-versions` }, 'Versions');
  versions.id = `${titleId}-versions`;
  versionsButton.addEventListener('click', async () => {
    const open = versionsButton.getAttribute('aria-expanded') === 'true';
    versionsButton.setAttribute('aria-expanded', String(!open));
    if (open) return versions.replaceChildren();
    await showVersions(ctx, file, versions, status);
  });
  return h('li', { class: 'card', 'aria-labelledby': titleId, dataset: { fileId: file.id } },
    h('div', { class: 'card-head' }, h('h2', { id: titleId }, file.name), h('span', { class: 'tag' }, file.version ? `version ${file.version}` : 'empty')),
    h('dl', { class: 'facts' },
      h('div', null, h('dt', null, 'Rows'), h('dd', null, num(file.rowCount))),
      h('div', null, h('dt', null, 'Columns'), h('dd', null, num(file.columnCount))),
      h('div', null, h('dt', null, 'Size'), h('dd', null, bytes(file.sizeBytes))),
      h('div', null, h('dt', null, 'Updated'), h('dd', null, timeEl(file.updatedAt)))),
    h('div', { class: 'actions' },
      h('button', {
        type: 'button', class: 'primary', 'aria-label': `Download ${file.name}`,
        onclick: () => download(status, () => ctx.client.getFileContent(file.id), file.name),
      }, 'Download CSV'),
      versionsButton,
      h('button', {
        type: 'button', class: 'danger', 'aria-label': `Delete ${file.name}`,
        onclick: async () => {
          if (!(await confirmAction(`Delete the file “${file.name}” and all its kept versions?`))) return;
          try {
            await ctx.client.deleteFile(file.id);
            ctx.navigate('#/files', `File “${file.name}” deleted.`);
          } catch (/** @type {any} */ e) {
            if (!e.handled) status.replaceChildren(notice('error', e.message));
          }
        },
      }, 'Delete')),
    status, versions);
}

/**
 * @param {HTMLElement} status where a failure is shown
 * @param {() => Promise<Response>} fetchIt @param {string} name the download's file name
 */
async function download(status, fetchIt, name) {
  try {
    await saveResponse(await fetchIt(), name);
    status.replaceChildren();
    announce(`Downloaded ${name}`);
  } catch (/** @type {any} */ e) {
    if (!e.handled) status.replaceChildren(notice('error', `Download failed: ${e.message}`));
  }
}

/** @param {ViewContext} ctx @param {TargetFile} file @param {HTMLElement} container @param {HTMLElement} status */
async function showVersions(ctx, file, container, status) {
  container.replaceChildren(h('p', { class: 'muted' }, 'Loading versions…'));
  const { versions } = await ctx.client.listFileVersions(file.id);
  if (!versions.length) return container.replaceChildren(h('p', { class: 'muted' }, 'No versions yet: a sync writes the first one.'));
  const stem = file.name.replace(/\.csv$/i, '');
  container.replaceChildren(h('div', { class: 'table-wrap' }, h('table', null,
    h('caption', null, `Kept versions of ${file.name}`),
    h('thead', null, h('tr', null, ['Version', 'Written', 'Rows', 'Columns', 'Size', ''].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, versions.map((v) => h('tr', null,
      h('td', null, String(v.version)),
      h('td', null, timeEl(v.createdAt)),
      h('td', { class: 'n' }, num(v.rowCount)),
      h('td', { class: 'n' }, num(v.columnCount)),
      h('td', { class: 'n' }, bytes(v.sizeBytes)),
      h('td', null, h('button', {
        type: 'button', class: 'small', 'aria-label': `Download version ${v.version}`,
        onclick: () => download(status, () => ctx.client.getFileVersionContent(file.id, v.version), `${stem}.v${v.version}.csv`),
      }, 'Download'))))))));
}
