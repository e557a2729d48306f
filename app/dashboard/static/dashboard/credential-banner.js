// @ts-check
// Credential health on the dashboard: a banner naming the data sources whose credentials were
// rejected or are about to expire, each with the way to fix it (its edit form), and the status
// line of a source's card. The daily check on the worker fills `credentialStatus`.

import { h, timeEl } from './dom.js';

/** @import { DataSource } from '../../client/datasync.js' */

const LABELS = /** @type {const} */ ({
  ok: 'Working',
  expiring: 'Expiring soon',
  failed: 'Rejected',
});

/** The sources needing attention, failed first. @param {DataSource[]} sources */
export function needingAttention(sources) {
  const failed = sources.filter((s) => s.credentialStatus.status === 'failed');
  const expiring = sources.filter((s) => s.credentialStatus.status === 'expiring');
  return [...failed, ...expiring];
}

/** A banner, or null when every source's credentials are fine. @param {DataSource[]} sources */
export function credentialBanner(sources) {
  const attention = needingAttention(sources);
  if (!attention.length) return null;
  const failed = attention.some((s) => s.credentialStatus.status === 'failed');
  return h('div', { class: `notice notice-${failed ? 'error' : 'warning'} credential-banner`, role: failed ? 'alert' : 'status' },
    h('p', null, h('strong', null, failed
      ? 'Some data sources’ credentials were rejected: their syncs will fail until they are replaced.'
      : 'Some data sources’ credentials expire soon.')),
    h('ul', null, attention.map((source) => h('li', { dataset: { sourceId: source.id } },
      h('strong', null, source.name), ` — ${LABELS[source.credentialStatus.status ?? 'ok']}: `,
      source.credentialStatus.message ?? '', ' ',
      h('a', { href: `#/sources/${source.id}/edit`, 'aria-label': `Update the credentials of ${source.name}` }, 'Update the credentials')))));
}

/** The card's fact: the last check's outcome and time. @param {DataSource} source */
export function credentialFact(source) {
  const { status, checkedAt } = source.credentialStatus;
  return h('div', null, h('dt', null, 'Credential check'),
    h('dd', { class: `credential-${status ?? 'unchecked'}` },
      status ? LABELS[status] : 'Not checked yet',
      checkedAt ? [' · ', timeEl(checkedAt)] : null));
}
