// @ts-check
// Sign in and register. Signing in sets the session cookie; the page never sees a token.

import { h } from './dom.js';
import { control, field, form, onSubmit, valueOf } from './forms.js';

/** What the service asks of a new password (it names the problem when one falls short). */
export const PASSWORD_HINT = 'At least 12 characters, and not a common or easily guessed one: a few uncommon words work well.';

/** A password exactly as typed: passwords are not trimmed. @param {HTMLElement} formEl @param {string} apiField */
export function passwordOf(formEl, apiField) {
  return /** @type {HTMLInputElement} */ (control(formEl, apiField)).value;
}

/** @param {import('./app.js').ViewContext} ctx */
export function signInView(ctx) {
  const el = form({ class: 'card narrow', 'aria-labelledby': 'sign-in-title' },
    field({ label: 'Email', field: 'email', type: 'email', attrs: { autocomplete: 'username', required: true } }),
    field({ label: 'Password', field: 'password', type: 'password', attrs: { autocomplete: 'current-password', required: true } }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
    h('p', null, 'No account yet? ', h('a', { href: '#/register' }, 'Create one')));
  onSubmit(el, async () => {
    const { user } = await ctx.client.signIn(valueOf(el, 'email'), passwordOf(el, 'password'));
    ctx.startSession(user);
  });
  return [h('h1', { id: 'sign-in-title' }, 'Sign in to DataSync'), el];
}

/** @param {import('./app.js').ViewContext} ctx */
export function registerView(ctx) {
  const el = form({ class: 'card narrow', 'aria-labelledby': 'register-title' },
    field({ label: 'Name (optional)', field: 'name', attrs: { autocomplete: 'name' } }),
    field({ label: 'Email', field: 'email', type: 'email', attrs: { autocomplete: 'username', required: true } }),
    field({ label: 'Password', field: 'password', type: 'password', hint: PASSWORD_HINT, attrs: { autocomplete: 'new-password', required: true } }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create account')),
    h('p', null, 'Already registered? ', h('a', { href: '#/sign-in' }, 'Sign in')));
  onSubmit(el, async () => {
    const email = valueOf(el, 'email');
    const password = passwordOf(el, 'password');
    // 403 when the operator closed registration: its message is shown above the form.
    await ctx.client.register({ email, password, name: valueOf(el, 'name') || undefined });
    const { user } = await ctx.client.signIn(email, password);
    ctx.startSession(user);
  });
  return [h('h1', { id: 'register-title' }, 'Create your DataSync account'), el];
}
