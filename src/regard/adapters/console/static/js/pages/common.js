// Pieces several pages share: a collection picker filled from ListCollections.

import { op } from '../api.js';
import { h } from '../dom.js';

export function collectionSelect(name) {
  const select = h('select', { name, required: true }, h('option', { value: '' }, 'Loading…'));
  op('ListCollections', {}).then((result) => {
    const ids = result.CollectionIds || [];
    select.replaceChildren(...(ids.length ? ids.map((id) => h('option', { value: id }, id)) : [h('option', { value: '' }, 'No collections')]));
  }).catch(() => select.replaceChildren(h('option', { value: '' }, 'Collections unavailable')));
  return select;
}

// The name to show for a matched face: its user, else its ExternalImageId, else its ID.
export function faceName(face) {
  if (!face) return '';
  return face.UserId || face.ExternalImageId || face.FaceId || '';
}
