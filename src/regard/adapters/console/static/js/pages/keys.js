// Keys (admin): list access keys (never their secrets), create one (its secret shown once), revoke.

import { request } from '../api.js';
import { announce, clear, confirmDialog, errorText, field, fmt, h, table } from '../dom.js';

const SCOPES = ['detect', 'search', 'index', 'admin'];

export function renderKeys(main, session) {
  const list = h('div', { class: 'panel' });
  const created = h('div', { 'aria-live': 'polite' });
  const scope = h('select', { name: 'scope' }, SCOPES.map((s) => h('option', { value: s }, s)));
  const name = h('input', { type: 'text', name: 'key-name', maxlength: '128' });
  const form = h('form', { class: 'panel inline', 'aria-label': 'Create an access key' },
    field('Scope', scope), field('Name', name), h('button', { type: 'submit' }, 'Create key'));

  async function refresh() {
    try {
      const result = await request('GET', 'keys');
      clear(list, table('Access keys', ['Access key ID', 'Scope', 'Name', 'Created', 'Revoked', 'Actions'],
        result.Keys.map((k) => [h('span', { class: 'mono' }, k.AccessKeyId), k.Scope, k.Name || '', fmt.time(k.CreatedAt), fmt.time(k.RevokedAt),
          k.RevokedAt || k.AccessKeyId === session.AccessKeyId ? '' : h('button', {
            type: 'button', class: 'danger', 'aria-label': `Revoke ${k.AccessKeyId}`,
            onclick: async () => {
              if (!(await confirmDialog(`Revoke ${k.AccessKeyId}? Requests signed with it are refused from now on.`, 'Revoke key'))) return;
              try { await request('POST', 'keys', { Action: 'Revoke', AccessKeyId: k.AccessKeyId }); announce(`${k.AccessKeyId} revoked.`); await refresh(); } catch (error) { announce(errorText(error)); }
            },
          }, 'Revoke')])));
    } catch (error) {
      clear(list, h('p', { class: 'error', role: 'alert' }, errorText(error)));
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const key = await request('POST', 'keys', { Action: 'Create', Scope: scope.value, Name: name.value.trim() || null });
      clear(created, h('div', { class: 'secret panel' },
        h('p', {}, h('strong', {}, 'Store the secret now: it will not be shown again.')),
        h('dl', { class: 'facts' }, h('dt', {}, 'Access key ID'), h('dd', { class: 'mono' }, key.AccessKeyId),
          h('dt', {}, 'Secret access key'), h('dd', { class: 'mono' }, key.SecretAccessKey), h('dt', {}, 'Scope'), h('dd', {}, key.Scope))));
      form.reset();
      announce(`Key ${key.AccessKeyId} created.`);
      await refresh();
    } catch (error) { announce(errorText(error)); }
  });
  clear(main, h('h1', {}, 'Access keys'), form, created, list);
  refresh();
}
