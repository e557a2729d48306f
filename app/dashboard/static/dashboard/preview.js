// @ts-check
// A sync's preview in the schedule form: what the next sync would write (counts, warnings, the
// first rows) before the schedule is saved. Nothing is written by a preview.

import { h, num } from './dom.js';

/** @import { Preview } from '../../client/datasync.js' */

/**
 * @param {string} label
 * @param {string[]} columns
 */
function columnList(label, columns) {
  return columns.length ? h('p', null, `${label}: `, columns.map((c, i) => [i ? ', ' : '', h('code', null, c)])) : '';
}

/**
 * The preview's panel: counts, then warnings, then the sample rows as a table.
 * @param {Preview} preview
 * @returns {HTMLElement}
 */
export function previewPanel(preview) {
  const { added, updated, deleted } = preview.changes;
  const shown = preview.rows.length;
  return h('section', { class: 'card preview', 'aria-label': 'Sync preview' },
    h('h2', null, 'Preview'),
    h('p', { class: 'preview-counts' },
      `${num(preview.rowCount)} rows: `,
      h('span', { 'data-count': 'added' }, `${num(added)} added`), ', ',
      h('span', { 'data-count': 'updated' }, `${num(updated)} updated`), ', ',
      h('span', { 'data-count': 'deleted' }, `${num(deleted)} deleted`), '. Nothing was written.'),
    columnList('Columns added', preview.columnsAdded),
    columnList('Columns removed', preview.columnsRemoved),
    preview.warnings.length
      ? h('ul', { class: 'preview-warnings', 'aria-label': 'Warnings' },
        preview.warnings.map((w) => h('li', { class: 'notice warning', 'data-code': w.code }, w.message)))
      : '',
    h('div', { class: 'table-scroll' },
      h('table', { class: 'preview-rows' },
        h('caption', null, shown < preview.rowCount ? `The first ${num(shown)} rows` : 'Every row'),
        h('thead', null, h('tr', null, preview.columns.map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, preview.rows.map((row) => h('tr', null, row.map((cell) => h('td', null, cell))))))));
}
