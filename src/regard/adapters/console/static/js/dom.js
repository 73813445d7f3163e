// Small DOM helpers: elements are built with textContent only (never innerHTML), so no value can inject markup.

let uid = 0;

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function newId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// A labelled control: <div class="field"><label for=id>text</label><control id=id></div>
export function field(label, control) {
  if (!control.id) control.id = newId('f');
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control);
}

let statusTimer = null;

export function announce(message) {
  const status = document.getElementById('status');
  status.textContent = '';
  window.clearTimeout(statusTimer);
  // A fresh text node after clearing makes screen readers read it again, even if it repeats.
  window.setTimeout(() => { status.textContent = message; }, 30);
  statusTimer = window.setTimeout(() => { status.textContent = ''; }, 8000);
}

export function table(caption, headers, rows) {
  const head = h('tr', {}, headers.map((text) => h('th', { scope: 'col', class: text.num ? 'num' : '' }, text.label ?? text)));
  const body = rows.map((cells) => h('tr', {}, cells.map((cell, i) => h('td', { class: headers[i].num ? 'num' : '' }, cell))));
  return h('div', { class: 'table-wrap' }, h('table', {}, h('caption', {}, caption), h('thead', {}, head), h('tbody', {}, body)));
}

export function errorText(error) {
  return error && error.message ? error.message : String(error);
}

// A modal question (<dialog>): resolves true when the user confirms.
export function confirmDialog(question, confirmLabel) {
  return modal(question, confirmLabel, 'danger', null).then((answer) => answer !== null);
}

// A modal question with one labelled text field, prefilled: resolves to the text, or null if cancelled.
export function promptDialog(question, label, value, confirmLabel) {
  const input = h('input', { type: 'text', value, required: true, maxlength: '128' });
  return modal(question, confirmLabel, '', field(label, input), input);
}

function modal(question, confirmLabel, confirmClass, body, input = null) {
  return new Promise((resolve) => {
    const yes = h('button', { type: input ? 'submit' : 'button', class: confirmClass }, confirmLabel);
    const no = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const qid = newId('modal-q');
    const form = h('form', { method: 'dialog' }, h('p', { id: qid }, question), body, h('div', { class: 'row' }, yes, no));
    const dialog = h('dialog', { 'aria-labelledby': qid }, form);
    const done = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!input || input.value.trim()) done(input ? input.value.trim() : true);
    });
    yes.addEventListener('click', (event) => { if (!input) { event.preventDefault(); done(true); } });
    no.addEventListener('click', () => done(null));
    dialog.addEventListener('cancel', () => done(null));
    document.body.append(dialog);
    dialog.showModal();
    (input || no).focus();
  });
}

export const fmt = {
  pct: (v) => (v === undefined || v === null ? '' : `${Number(v).toFixed(1)}%`),
  num: (v, digits = 1) => (v === undefined || v === null ? '' : Number(v).toFixed(digits)),
  fmr: (v) => {
    if (v === undefined || v === null) return 'not calibrated';
    if (v === 0) return '0 (none seen)';
    return Number(v) < 0.001 ? Number(v).toExponential(1) : Number(v).toPrecision(2);
  },
  time: (epochSeconds) => {
    if (epochSeconds === undefined || epochSeconds === null || epochSeconds === '') return '';
    return new Date(Number(epochSeconds) * 1000).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
  },
  short: (hex, n = 12) => (hex ? `${hex.slice(0, n)}…` : ''),
};
