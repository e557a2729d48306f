// Sign in and register.

import { h } from './dom.js';
import { field, form, onSubmit, valueOf } from './forms.js';

/** @param {import('./app.js').ViewContext} ctx */
export function signInView(ctx) {
  const el = form({ class: 'card narrow', 'aria-labelledby': 'sign-in-title' },
    field({ label: 'Email', field: 'email', type: 'email', attrs: { autocomplete: 'username', required: true } }),
    field({ label: 'Password', field: 'password', type: 'password', attrs: { autocomplete: 'current-password', required: true } }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')),
    h('p', null, 'No account yet? ', h('a', { href: '#/register' }, 'Create one')));
  onSubmit(el, async () => {
    const { token } = await ctx.client.login(valueOf(el, 'email'), /** @type {any} */ (el.querySelector('[name=password]')).value);
    await ctx.startSession(token);
  });
  return [h('h1', { id: 'sign-in-title' }, 'Sign in to DataSync'), el];
}

/** @param {import('./app.js').ViewContext} ctx */
export function registerView(ctx) {
  const el = form({ class: 'card narrow', 'aria-labelledby': 'register-title' },
    field({ label: 'Name (optional)', field: 'name', attrs: { autocomplete: 'name' } }),
    field({ label: 'Email', field: 'email', type: 'email', attrs: { autocomplete: 'username', required: true } }),
    field({ label: 'Password', field: 'password', type: 'password', hint: 'At least 10 characters.', attrs: { autocomplete: 'new-password', required: true } }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create account')),
    h('p', null, 'Already registered? ', h('a', { href: '#/sign-in' }, 'Sign in')));
  onSubmit(el, async () => {
    const email = valueOf(el, 'email');
    const password = /** @type {any} */ (el.querySelector('[name=password]')).value;
    await ctx.client.register({ email, password, name: valueOf(el, 'name') || undefined });
    const { token } = await ctx.client.login(email, password);
    await ctx.startSession(token);
  });
  return [h('h1', { id: 'register-title' }, 'Create your DataSync account'), el];
}
