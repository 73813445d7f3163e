// Collections: list, create (purpose, retention), describe; faces with their provenance; delete faces; users.

import { imageParam, op } from '../api.js';
import { announce, clear, confirmDialog, errorText, field, fmt, h, newId, table } from '../dom.js';
import { plural } from './detect.js';
import { clustersSection } from './clusters.js';

const PURPOSE_TAG = 'regard:purpose';
const RETENTION_TAG = 'regard:retention-days';
const REQUIRE_PURPOSE_TAG = 'regard:require-purpose';

export function renderCollections(main, session) {
  const can = (operation) => session.Operations.includes(operation);
  const list = h('section', { 'aria-labelledby': 'collections-title' });
  const detail = h('section', { id: 'collection-detail', 'aria-live': 'polite' });

  async function refresh() {
    try {
      const result = await op('ListCollections', {});
      const rows = (result.Collections || []).map((c) => [
        h('button', { type: 'button', class: 'link', onclick: () => open(c.CollectionId), 'aria-label': `Open ${c.CollectionId}` }, c.CollectionId),
        String(c.FaceCount), String(c.UserCount), c.Purpose || '', c.RequirePurpose ? 'Purpose required' : '', c.RetentionDays ?? '', c.FaceModelVersion, fmt.time(c.CreationTimestamp),
        can('DeleteCollection')
          ? h('button', { type: 'button', class: 'danger', onclick: () => remove(c.CollectionId), 'aria-label': `Delete collection ${c.CollectionId}` }, 'Delete')
          : '',
      ]);
      clear(list, h('h2', { id: 'collections-title' }, 'Collections'),
        rows.length ? table(`${plural(rows.length, 'collection')}`, [
          'Collection', { label: 'Faces', num: true }, { label: 'Users', num: true }, 'Purpose', 'Searches',
          { label: 'Retention (days)', num: true }, 'Model', 'Created', 'Actions',
        ], rows) : h('p', { class: 'muted' }, 'No collections yet.'));
    } catch (error) {
      clear(list, h('p', { class: 'error', role: 'alert' }, errorText(error)));
    }
  }

  async function remove(collectionId) {
    if (!(await confirmDialog(`Erase collection ${collectionId} and every face in it? This cannot be undone.`, 'Delete collection'))) return;
    try {
      await op('DeleteCollection', { CollectionId: collectionId });
      announce(`Collection ${collectionId} deleted.`);
      clear(detail);
      await refresh();
    } catch (error) {
      announce(errorText(error));
    }
  }

  async function open(collectionId) {
    clear(detail, h('p', { class: 'muted' }, `Loading ${collectionId}…`));
    try {
      const [info, faces, users] = await Promise.all([
        op('DescribeCollection', { CollectionId: collectionId }),
        op('ListFaces', { CollectionId: collectionId, MaxResults: 1000 }),
        can('ListUsers') ? op('ListUsers', { CollectionId: collectionId, MaxResults: 500 }) : Promise.resolve({ Users: [] }),
      ]);
      showDetail(collectionId, info, faces.Faces || [], users.Users || []);
    } catch (error) {
      clear(detail, h('p', { class: 'error', role: 'alert' }, errorText(error)));
    }
  }

  function showDetail(collectionId, info, faces, users) {
    const facts = h('dl', { class: 'facts' },
      h('dt', {}, 'Faces'), h('dd', {}, String(info.FaceCount)),
      h('dt', {}, 'Users'), h('dd', {}, String(info.UserCount ?? users.length)),
      h('dt', {}, 'Purpose'), h('dd', {}, info.Purpose || '—'),
      h('dt', {}, 'Searches'), h('dd', { id: 'collection-searches' }, info.RegardRequirePurpose ? 'Purpose required' : 'No stated purpose required'),
      h('dt', {}, 'Retention'), h('dd', {}, info.RetentionDays ? `${info.RetentionDays} days` : 'no expiry'),
      h('dt', {}, 'Model'), h('dd', {}, info.FaceModelVersion),
      h('dt', {}, 'ARN'), h('dd', { class: 'mono' }, info.CollectionARN),
      h('dt', {}, 'Created'), h('dd', {}, fmt.time(info.CreationTimestamp)));
    const boxes = [];
    const selectable = can('DeleteFaces') || can('AssociateFaces');
    const faceRows = faces.map((f) => {
      const box = h('input', { type: 'checkbox', value: f.FaceId, 'aria-label': `Select face ${f.FaceId}` });
      boxes.push(box);
      return [
        selectable ? box : '', h('span', { class: 'mono' }, f.FaceId), f.ExternalImageId || '', f.UserId || '',
        h('span', { class: 'mono', title: f.SourceImageSha256 || '' }, fmt.short(f.SourceImageSha256)),
        f.IndexedBy || '', fmt.time(f.IndexedAt), f.ExpiresAt ? fmt.time(f.ExpiresAt) : 'never',
      ];
    });
    const deleteFaces = h('button', { type: 'button', class: 'danger' }, 'Delete selected faces');
    deleteFaces.addEventListener('click', async () => {
      const ids = boxes.filter((b) => b.checked).map((b) => b.value);
      if (!ids.length) { announce('Select the faces to delete first.'); return; }
      if (!(await confirmDialog(`Delete ${plural(ids.length, 'face')} from ${collectionId}?`, 'Delete faces'))) return;
      try {
        const result = await op('DeleteFaces', { CollectionId: collectionId, FaceIds: ids });
        const refused = (result.UnsuccessfulFaceDeletions || []).length;
        announce(`${plural((result.DeletedFaces || []).length, 'face')} deleted${refused ? `, ${refused} refused (associated with a user)` : ''}.`);
        await Promise.all([open(collectionId), refresh()]);
      } catch (error) { announce(errorText(error)); }
    });
    const parts = [
      h('h2', { id: 'detail-title' }, `Collection ${collectionId}`), facts,
      faces.length
        ? table(`${plural(faces.length, 'face')} (Regard keeps no face images, only templates and this provenance)`, [
          selectable ? 'Select' : '', 'Face ID', 'ExternalImageId', 'User', 'Source image SHA-256', 'Indexed by', 'Indexed at', 'Expires',
        ], faceRows)
        : h('p', { class: 'muted' }, 'No faces in this collection.'),
    ];
    if (faces.length && can('DeleteFaces')) parts.push(h('p', {}, deleteFaces));
    if (faces.length && users.length && can('AssociateFaces')) parts.push(associateForm(collectionId, users, boxes));
    const usersBox = h('div', {}, usersSection(collectionId, users));
    const refreshUsers = async () => {
      const listed = await op('ListUsers', { CollectionId: collectionId, MaxResults: 500 });
      clear(usersBox, usersSection(collectionId, listed.Users || []));
    };
    if (faces.length && can('ClusterFaces')) parts.push(clustersSection(collectionId, session, refreshUsers));
    if (can('IndexFaces')) parts.push(indexForm(collectionId));
    parts.push(usersBox);
    clear(detail, h('div', { class: 'panel' }, parts));
  }

  function associateForm(collectionId, users, boxes) {
    const user = h('select', { name: 'associate-user' }, users.map((u) => h('option', { value: u.UserId }, u.UserId)));
    const form = h('form', { class: 'inline' }, field('User for the selected faces', user), h('button', { type: 'submit', class: 'secondary' }, 'Associate selected faces'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const ids = boxes.filter((b) => b.checked).map((b) => b.value);
      if (!ids.length) { announce('Select the faces to associate first.'); return; }
      try {
        const result = await op('AssociateFaces', { CollectionId: collectionId, UserId: user.value, FaceIds: ids });
        announce(`${plural((result.AssociatedFaces || []).length, 'face')} associated with ${user.value}.`);
        await open(collectionId);
      } catch (error) { announce(errorText(error)); }
    });
    return form;
  }

  function indexForm(collectionId) {
    const image = h('input', { type: 'file', accept: 'image/jpeg,image/png', name: 'index-image' });
    const external = h('input', { type: 'text', name: 'external-image-id', maxlength: '255', pattern: '[a-zA-Z0-9_.\\-:]+' });
    const form = h('form', { class: 'inline' }, field('Image to index', image), field('ExternalImageId', external), h('button', { type: 'submit' }, 'Index faces'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!image.files[0]) { announce('Choose an image to index.'); return; }
      try {
        const params = { CollectionId: collectionId, Image: await imageParam(image.files[0]) };
        if (external.value.trim()) params.ExternalImageId = external.value.trim();
        const result = await op('IndexFaces', params);
        announce(`${plural((result.FaceRecords || []).length, 'face')} indexed in ${collectionId}.`);
        await Promise.all([open(collectionId), refresh()]);
      } catch (error) { announce(errorText(error)); }
    });
    return h('div', {}, h('h2', {}, 'Index an image'), form);
  }

  function usersSection(collectionId, users) {
    const rows = users.map((u) => [
      h('span', { class: 'mono' }, u.UserId), u.UserStatus || '',
      can('DeleteUser') ? h('button', {
        type: 'button', class: 'danger', 'aria-label': `Delete user ${u.UserId}`,
        onclick: async () => {
          if (!(await confirmDialog(`Delete user ${u.UserId}? Its faces stay, unassociated.`, 'Delete user'))) return;
          try { await op('DeleteUser', { CollectionId: collectionId, UserId: u.UserId }); announce(`User ${u.UserId} deleted.`); await open(collectionId); } catch (error) { announce(errorText(error)); }
        },
      }, 'Delete') : '',
    ]);
    const parts = [h('h2', {}, 'Users'), rows.length ? table(plural(rows.length, 'user'), ['User ID', 'Status', 'Actions'], rows) : h('p', { class: 'muted' }, 'No users.')];
    if (can('CreateUser')) {
      const userId = h('input', { type: 'text', name: 'user-id', maxlength: '128' });
      const form = h('form', { class: 'inline' }, field('New user ID', userId), h('button', { type: 'submit' }, 'Create user'));
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        try { await op('CreateUser', { CollectionId: collectionId, UserId: userId.value.trim() }); announce(`User ${userId.value.trim()} created.`); await open(collectionId); } catch (error) { announce(errorText(error)); }
      });
      parts.push(form);
    }
    return h('div', {}, parts);
  }

  const parts = [h('h1', {}, 'Collections')];
  if (can('CreateCollection')) {
    const id = h('input', { type: 'text', name: 'collection-id', required: true, maxlength: '255', pattern: '[a-zA-Z0-9_.\\-]+' });
    const purpose = h('input', { type: 'text', name: 'purpose', maxlength: '256' });
    const retention = h('input', { type: 'number', name: 'retention-days', min: '1', step: '1' });
    const requirePurpose = h('input', { type: 'checkbox', name: 'require-purpose', id: newId('require-purpose') });
    const form = h('form', { class: 'panel inline', 'aria-label': 'Create a collection' },
      field('Collection ID', id), field('Purpose', purpose), field('Retention (days)', retention),
      h('div', { class: 'field check' }, h('label', {}, requirePurpose, ' Require a stated purpose for searches')),
      h('button', { type: 'submit' }, 'Create collection'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const tags = {};
      if (purpose.value.trim()) tags[PURPOSE_TAG] = purpose.value.trim();
      if (retention.value) tags[RETENTION_TAG] = String(retention.value);
      if (requirePurpose.checked) tags[REQUIRE_PURPOSE_TAG] = 'true';
      try {
        await op('CreateCollection', { CollectionId: id.value.trim(), Tags: tags });
        announce(`Collection ${id.value.trim()} created.`);
        const created = id.value.trim();
        form.reset();
        await refresh();
        await open(created);
      } catch (error) { announce(errorText(error)); }
    });
    parts.push(form);
  }
  clear(main, parts, h('div', { class: 'panel' }, list), detail);
  refresh();
}
