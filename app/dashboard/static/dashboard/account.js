// @ts-check
// The signed-in user: their password, their API keys (for scripts and the JS client outside
// a browser) and their OAuth clients (oauth-clients.js).

import { h, notice, timeEl, confirmAction } from './dom.js';
import { field, form, invalid, onSubmit, valueOf } from './forms.js';
import { PASSWORD_HINT, passwordOf } from './auth.js';
import { clientsSection, listClients } from './oauth-clients.js';

/** @import { ApiKey } from '../../client/datasync.js' */
/** @import { ViewContext } from './app.js' */

/** @param {ViewContext} ctx */
export async function accountView(ctx) {
  const [{ user }, { apiKeys }, clients] = await Promise.all([
    ctx.client.me({ signal: ctx.signal }), ctx.client.listApiKeys({ signal: ctx.signal }), listClients(ctx, { signal: ctx.signal })]);
  const created = h('div', { role: 'status', 'aria-live': 'polite' });
  const keys = h('div');
  const renderKeys = (/** @type {ApiKey[]} */ list) => keys.replaceChildren(keyList(ctx, list));
  renderKeys(apiKeys);
  const createForm = form({ class: 'inline-form', 'aria-label': 'Create an API key' },
    field({ label: 'Key name', field: 'name', hint: 'What will use it, e.g. “nightly export script”.' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create API key')));
  onSubmit(createForm, async () => {
    const { apiKey } = await ctx.client.createApiKey(valueOf(createForm, 'name'));
    const keyField = /** @type {HTMLInputElement} */ (h('input', { id: 'new-key', readonly: true, value: apiKey.key, class: 'mono' }));
    created.replaceChildren(h('div', { class: 'notice notice-success' },
      h('p', null, h('strong', null, `Key “${apiKey.name}” created.`), ' Copy it now: it is not shown again.'),
      h('label', { for: 'new-key' }, 'API key'), keyField,
      h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: async () => { await navigator.clipboard?.writeText(apiKey.key); keyField.select(); } }, 'Copy'),
        h('button', { type: 'button', onclick: () => ctx.navigate('#/account') }, 'Done'))));
    keyField.focus();
    keyField.select();
    renderKeys((await ctx.client.listApiKeys()).apiKeys);
  });
  return [
    h('h1', null, 'Account'),
    h('section', { class: 'card', 'aria-labelledby': 'me-heading' },
      h('h2', { id: 'me-heading' }, 'You'),
      h('dl', { class: 'facts' },
        h('div', null, h('dt', null, 'Email'), h('dd', null, user.email)),
        h('div', null, h('dt', null, 'Name'), h('dd', null, user.name || '—')),
        h('div', null, h('dt', null, 'Member since'), h('dd', null, timeEl(user.createdAt))))),
    passwordSection(ctx),
    h('section', { class: 'card', 'aria-labelledby': 'keys-heading' },
      h('h2', { id: 'keys-heading' }, 'API keys'),
      h('p', { class: 'muted' }, 'Bearer tokens for scripts and servers: ', h('code', null, 'Authorization: Bearer ds_live_…'), '. Revoking takes effect at once.'),
      createForm, created,
      keys),
    clientsSection(ctx, clients),
  ];
}

/** Changing the password ends every session of the user; this browser gets a fresh one. @param {ViewContext} ctx */
function passwordSection(ctx) {
  const el = form({ class: 'inline-form', 'aria-labelledby': 'password-heading' },
    field({ label: 'Current password', field: 'currentPassword', type: 'password', attrs: { autocomplete: 'current-password', required: true } }),
    field({ label: 'New password', field: 'newPassword', type: 'password', hint: PASSWORD_HINT, attrs: { autocomplete: 'new-password', required: true } }),
    field({ label: 'Repeat the new password', field: 'repeatPassword', type: 'password', attrs: { autocomplete: 'new-password', required: true } }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Change password')));
  onSubmit(el, async () => {
    const newPassword = passwordOf(el, 'newPassword');
    if (newPassword !== passwordOf(el, 'repeatPassword')) {
      throw invalid('repeatPassword', 'does not match the new password', 'Check the new password');
    }
    await ctx.client.changePassword(passwordOf(el, 'currentPassword'), newPassword);
    ctx.navigate('#/account', 'Password changed. Every other browser and script signed in with it has been signed out.');
  });
  return h('section', { class: 'card', 'aria-labelledby': 'password-heading' },
    h('h2', { id: 'password-heading' }, 'Change password'),
    h('p', { class: 'muted' }, 'Signs out every other session: other browsers and scripts that signed in with your password. API keys keep working.'),
    el);
}

/** @param {ViewContext} ctx @param {ApiKey[]} apiKeys */
function keyList(ctx, apiKeys) {
  if (!apiKeys.length) return notice('info', 'No API keys.');
  return h('ul', { class: 'plain-list' }, apiKeys.map((key) => h('li', null,
    h('span', null, h('strong', null, key.name), ' ', h('code', null, `${key.prefix}…`), ' · created ', timeEl(key.createdAt)),
    h('button', {
      type: 'button', class: 'danger small', 'aria-label': `Revoke ${key.name}`,
      onclick: async () => {
        if (!(await confirmAction(`Revoke the API key “${key.name}”? Anything using it stops working at once.`, 'Revoke'))) return;
        await ctx.client.revokeApiKey(key.id);
        ctx.navigate('#/account', `API key “${key.name}” revoked.`);
      },
    }, 'Revoke'))));
}
