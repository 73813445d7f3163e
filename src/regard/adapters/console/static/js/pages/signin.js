// Sign-in with an access key: the secret goes to the server once, over this page's own origin, and is kept nowhere.

import { request } from '../api.js';
import { clear, errorText, field, h } from '../dom.js';

export function renderSignIn(main, onSignedIn) {
  const keyId = h('input', { type: 'text', name: 'access-key-id', autocomplete: 'username', required: true, spellcheck: 'false' });
  const secret = h('input', { type: 'password', name: 'secret-access-key', autocomplete: 'current-password', required: true });
  const message = h('p', { class: 'error', role: 'alert' });
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'panel narrow', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('p', { class: 'muted' }, 'Use an access key made with "regard keys create". What you can see depends on its scope.'),
    field('Access key ID', keyId),
    field('Secret access key', secret),
    button,
    message);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.textContent = '';
    button.disabled = true;
    try {
      const who = await request('POST', 'session', { AccessKeyId: keyId.value.trim(), SecretAccessKey: secret.value });
      secret.value = '';
      onSignedIn(who);
    } catch (error) {
      secret.value = '';
      message.textContent = errorText(error);
      secret.focus();
    } finally {
      button.disabled = false;
    }
  });
  clear(main, form);
  keyId.focus();
}
