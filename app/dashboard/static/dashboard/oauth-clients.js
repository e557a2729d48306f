// @ts-check
// The signed-in user's OAuth clients: backends that exchange a client id and secret for
// short-lived tokens at POST /oauth/token, each token limited to the scopes chosen here.

import { h, notice, timeEl, confirmAction } from './dom.js';
import { control, field, form, onSubmit, valueOf } from './forms.js';

/** @import { Answer, Body } from '../../client/datasync.js' */
/** @import { ViewContext } from './app.js' */
/** @typedef {Answer<'listClients'>['clients'][number]} OAuthClient */
/** @typedef {Body<'createClient'>['scopes'][number]} Scope */

/** Every scope, in the API's order, with what it lets a client do. @type {Array<[Scope, string]>} */
const SCOPES = [
  ['schedules:read', 'read schedules, history and runs'],
  ['schedules:write', 'change schedules and target files'],
  ['sync:run', 'run a sync now'],
  ['files:read', 'read files and their CSV content'],
  ['sources:read', 'read data sources'],
  ['sources:write', 'change and test data sources'],
  ['webhooks:write', 'manage webhooks'],
];

/** @param {ViewContext} ctx @param {{signal?: AbortSignal}} [options] @returns {Promise<OAuthClient[]>} */
export async function listClients(ctx, options = {}) {
  /** @type {Answer<'listClients'>} */
  const answer = await ctx.client.request('GET', '/api/auth/clients', options);
  return answer.clients;
}

/** @param {ViewContext} ctx @param {OAuthClient[]} clients */
export function clientsSection(ctx, clients) {
  const created = h('div', { role: 'status', 'aria-live': 'polite' });
  const listed = h('div');
  const render = (/** @type {OAuthClient[]} */ list) => listed.replaceChildren(clientList(ctx, list));
  render(clients);
  const createForm = form({ class: 'inline-form', 'aria-label': 'Create an OAuth client' },
    field({ label: 'Client name', field: 'name', hint: 'What will use it, e.g. “reporting backend”.' }),
    field({
      label: 'Scopes', field: 'scopes', type: 'select', hint: 'What its tokens may do. Hold Ctrl (⌘ on a Mac) to choose several.',
      options: SCOPES.map(([scope, text]) => [scope, `${scope}: ${text}`]), attrs: { multiple: true, size: SCOPES.length },
    }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create OAuth client')));
  onSubmit(createForm, async () => {
    const scopes = /** @type {HTMLSelectElement} */ (/** @type {unknown} */ (control(createForm, 'scopes')));
    /** @type {Body<'createClient'>} */
    const body = { name: valueOf(createForm, 'name'), scopes: Array.from(scopes.selectedOptions, (o) => /** @type {Scope} */ (o.value)) };
    /** @type {Answer<'createClient'>} */
    const { client } = await ctx.client.request('POST', '/api/auth/clients', { body });
    created.replaceChildren(h('div', { class: 'notice notice-success' },
      h('p', null, h('strong', null, `OAuth client “${client.name}” created.`), ' Copy its secret now: it is not shown again.'),
      copyable('new-client-id', 'Client ID', client.clientId),
      copyable('new-client-secret', 'Client secret', client.clientSecret),
      h('p', { class: 'muted' }, 'Tokens: ', h('code', null, 'POST /oauth/token'), ' with ', h('code', null, 'grant_type=client_credentials'), ' and these credentials in HTTP Basic.'),
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => ctx.navigate('#/account') }, 'Done'))));
    /** @type {HTMLInputElement} */ (created.querySelector('#new-client-secret')).select();
    render(await listClients(ctx));
  });
  return h('section', { class: 'card', 'aria-labelledby': 'clients-heading' },
    h('h2', { id: 'clients-heading' }, 'OAuth clients'),
    h('p', { class: 'muted' }, 'For backends that use OAuth 2.0 client credentials: each gets tokens of an hour at most, limited to its scopes. Deleting a client ends its tokens at once.'),
    createForm, created, listed);
}

/** A read-only value with a Copy button. @param {string} id @param {string} label @param {string} value */
function copyable(id, label, value) {
  const input = /** @type {HTMLInputElement} */ (h('input', { id, readonly: true, value, class: 'mono' }));
  return [
    h('label', { for: id }, label), input,
    h('div', { class: 'actions' },
      h('button', { type: 'button', 'aria-label': `Copy ${label}`, onclick: async () => { await navigator.clipboard?.writeText(value); input.select(); } }, 'Copy')),
  ];
}

/** @param {ViewContext} ctx @param {OAuthClient[]} clients */
function clientList(ctx, clients) {
  if (!clients.length) return notice('info', 'No OAuth clients.');
  return h('ul', { class: 'plain-list' }, clients.map((client) => h('li', null,
    h('span', null, h('strong', null, client.name), ' ', h('code', null, client.clientId), ' · ', client.scopes.join(', '), ' · created ', timeEl(client.createdAt)),
    h('button', {
      type: 'button', class: 'danger small', 'aria-label': `Delete ${client.name}`,
      onclick: async () => {
        if (!(await confirmAction(`Delete the OAuth client “${client.name}”? Its tokens stop working at once.`, 'Delete'))) return;
        await ctx.client.request('DELETE', `/api/auth/clients/${encodeURIComponent(client.clientId)}`);
        ctx.navigate('#/account', `OAuth client “${client.name}” deleted.`);
      },
    }, 'Delete'))));
}
