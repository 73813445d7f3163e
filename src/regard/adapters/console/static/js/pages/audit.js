// Audit log: who did what to which collection, filtered; and whether the hash chain is intact.

import { op, request } from '../api.js';
import { announce, clear, errorText, field, h, table } from '../dom.js';
import { plural } from './detect.js';

const MAX_RECORDS = 5000;

function detailsText(json) {
  try {
    const details = JSON.parse(json);
    return Object.entries(details).map(([k, v]) => {
      const value = Array.isArray(v) ? (v.length > 2 ? `[${v.length}]` : JSON.stringify(v)) : (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
      return `${k}=${value.length > 40 ? `${value.slice(0, 39)}…` : value}`;
    }).join(', ');
  } catch {
    return json;
  }
}

export function renderAudit(main) {
  const collection = h('input', { type: 'text', name: 'collection', maxlength: '255' });
  const operation = h('select', { name: 'operation' }, h('option', { value: '' }, 'Any operation'));
  const from = h('input', { type: 'datetime-local', name: 'from', step: '1' });
  const to = h('input', { type: 'datetime-local', name: 'to', step: '1' });
  const verification = h('div', { id: 'audit-verification', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Verifying the hash chain…'));
  const output = h('div', { id: 'audit-result' });
  const form = h('form', { class: 'panel inline' },
    field('Collection', collection), field('Operation', operation), field('From (UTC)', from), field('To (UTC)', to),
    h('button', { type: 'submit' }, 'Apply filters'));
  let knownOperations = new Set();

  async function verify() {
    try {
      const result = await request('GET', 'audit/verify');
      clear(verification, result.Intact
        ? h('p', { class: 'banner ok' }, `Hash chain verified: ${plural(result.RecordsChecked, 'record')} intact.`)
        : h('p', { class: 'banner bad' }, `Hash chain BROKEN at record ${result.FirstBadSequence}: ${result.Reason}`));
    } catch (error) {
      clear(verification, h('p', { class: 'error' }, `Verification unavailable: ${errorText(error)}`));
    }
  }

  async function load() {
    clear(output, h('p', { class: 'muted' }, 'Loading records…'));
    try {
      const params = { MaxResults: 1000 };
      if (collection.value.trim()) params.CollectionId = collection.value.trim();
      if (from.value) params.Since = `${from.value}+00:00`;
      let records = [];
      for (;;) {
        const page = await op('ListAuditRecords', params);
        records.push(...(page.Records || []));
        if (page.NextSequence === undefined || records.length >= MAX_RECORDS) break;
        params.AfterSequence = page.NextSequence;
      }
      for (const r of records) knownOperations.add(r.Operation);
      const chosen = operation.value;
      operation.replaceChildren(h('option', { value: '' }, 'Any operation'), ...[...knownOperations].sort().map((o) => h('option', { value: o }, o)));
      operation.value = chosen;
      // Operation and end time are filtered here: ListAuditRecords filters by collection and start time.
      if (chosen) records = records.filter((r) => r.Operation === chosen);
      if (to.value) { const end = new Date(`${to.value}Z`).getTime(); records = records.filter((r) => new Date(r.Time).getTime() <= end); }
      records.reverse();
      clear(output, table(`${plural(records.length, 'record')}, newest first`,
        [{ label: 'Seq', num: true }, 'Time (UTC)', 'Operation', 'Access key', 'Collection', 'Client', 'Details'],
        records.map((r) => [String(r.Sequence), h('span', { class: 'nowrap' }, r.Time.slice(0, 19).replace('T', ' ')), r.Operation, r.AccessKeyId || '—',
          r.CollectionId || '—', r.Client || '—', h('span', { class: 'mono' }, detailsText(r.Details))])));
      announce(`${plural(records.length, 'audit record')} shown.`);
    } catch (error) {
      clear(output, h('p', { class: 'error', role: 'alert' }, errorText(error)));
    }
  }

  form.addEventListener('submit', (event) => { event.preventDefault(); load(); });
  clear(main, h('h1', {}, 'Audit log'),
    h('p', { class: 'muted' }, 'Every call, including this page\'s own reads, is recorded in a tamper-evident hash chain.'),
    verification, form, output);
  verify();
  load();
}
