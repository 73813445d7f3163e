// Pieces several pages share: a collection picker filled from ListCollections, and the stated purpose.

import { op } from '../api.js';
import { errorText, field, h, newId } from '../dom.js';

// Options carry data-require-purpose for collections whose searches must state a purpose; a "change" event
// fires once the options are in, so pages can show what the chosen collection needs.
export function collectionSelect(name) {
  const select = h('select', { name, required: true }, h('option', { value: '' }, 'Loading…'));
  op('ListCollections', {}).then((result) => {
    const bound = new Set((result.Collections || []).filter((c) => c.RequirePurpose).map((c) => c.CollectionId));
    const ids = result.CollectionIds || [];
    select.replaceChildren(...(ids.length
      ? ids.map((id) => h('option', { value: id, 'data-require-purpose': bound.has(id) }, bound.has(id) ? `${id} (purpose required)` : id))
      : [h('option', { value: '' }, 'No collections')]));
    select.dispatchEvent(new Event('change'));
  }).catch(() => select.replaceChildren(h('option', { value: '' }, 'Collections unavailable')));
  return select;
}

// The name to show for a matched face: its user, else its ExternalImageId, else its ID.
export function faceName(face) {
  if (!face) return '';
  return face.UserId || face.ExternalImageId || face.FaceId || '';
}

// "Purpose": why this call is made (a case or ticket reference and a reason). Sent with the call, checked by
// the server and kept in its audit record; collections tagged regard:require-purpose refuse searches without.
// With a collection picker, a note says when the chosen collection requires one.
export function purposeField(collection) {
  const input = h('input', {
    type: 'text', name: 'purpose', maxlength: '512', autocomplete: 'off', placeholder: 'CASE-1234: identify the person at gate 3',
  });
  const note = h('p', { class: 'hint', id: newId('purpose-note') });
  input.setAttribute('aria-describedby', note.id);
  const update = () => {
    const option = collection && collection.selectedOptions[0];
    note.textContent = option && option.hasAttribute('data-require-purpose')
      ? 'This collection requires a stated purpose for searches.'
      : 'Kept in the audit record with this call.';
  };
  if (collection) collection.addEventListener('change', update);
  update();
  const wrapper = field('Purpose (case or ticket reference and reason)', input);
  wrapper.classList.add('wide');
  wrapper.append(note);
  return { input, field: wrapper };
}

// The refusal of a purpose-bound collection, with what to do about it in this page.
export function refusalText(error, purposeInput) {
  const text = errorText(error);
  if (error && error.code === 'AccessDeniedException' && !purposeInput.value.trim()) {
    return `${text} In the console: fill in the Purpose field and try again.`;
  }
  return text;
}
