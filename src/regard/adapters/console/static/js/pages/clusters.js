// "Find people" on a collection: ClusterFaces groups the faces nobody has named yet; "Make user" names a
// cluster through CreateUser and AssociateFaces, so the service's rules (scopes, limits, audit) apply as usual.
// Regard keeps no face images: a cluster is shown by the ExternalImageIds its faces were indexed with.

import { op } from '../api.js';
import { announce, clear, errorText, field, fmt, h, promptDialog, table } from '../dom.js';
import { plural } from './detect.js';

// The service's defaults (docs/clustering.md), shown in the fields.
const DEFAULT_THRESHOLD = 80;
const DEFAULT_MIN_SIZE = 2;
const DEFAULT_PAGE = 50;
const USER_PREFIX = 'cluster-'; // as `regard cluster --to-users`

export function clustersSection(collectionId, session, onUsersChanged) {
  const can = (operation) => session.Operations.includes(operation);
  const threshold = h('input', { type: 'number', name: 'cluster-threshold', min: '0', max: '100', step: 'any', value: DEFAULT_THRESHOLD });
  const minSize = h('input', { type: 'number', name: 'min-cluster-size', min: '2', step: '1', value: DEFAULT_MIN_SIZE });
  const perPage = h('input', { type: 'number', name: 'clusters-per-page', min: '1', max: '4096', step: '1', value: DEFAULT_PAGE });
  const withUsers = h('input', { type: 'checkbox', name: 'include-user-faces' });
  const form = h('form', { class: 'inline', 'aria-label': 'Find people' },
    field('Cluster threshold (similarity)', threshold), field('Minimum cluster size', minSize), field('Clusters per page', perPage),
    h('div', { class: 'field check' }, h('label', {}, withUsers, ' Include faces that already belong to a user')),
    h('button', { type: 'submit' }, 'Find people'));
  const summary = h('p', { id: 'cluster-summary', 'aria-live': 'polite' });
  const results = h('div', { id: 'cluster-results' });
  const more = h('p', {});
  const shown = [];
  const made = new Map(); // ClusterId -> what Make user did
  let next = null;
  let request = null;

  async function load() {
    const params = { ...request };
    if (next) params.NextToken = next;
    const result = await op('ClusterFaces', params);
    if (!next) summary.dataset.unclustered = String((result.UnclusteredFaceIds || []).length);
    shown.push(...(result.Clusters || []));
    next = result.NextToken || null;
    render();
  }

  function render() {
    const unclustered = Number(summary.dataset.unclustered || 0);
    summary.textContent = `${plural(shown.length, 'cluster')} shown${next ? ' (more to load)' : ''}; ${plural(unclustered, 'face')} unclustered.`;
    const rows = shown.map((c) => [
      h('span', { class: 'mono' }, c.ClusterId), String(c.FaceIds.length), fmt.num(c.Cohesion),
      c.RepresentativeExternalImageId || '—',
      (c.ExternalImageIds || []).map((name) => name || '—').join(', '),
      made.get(c.ClusterId) || (can('CreateUser') && can('AssociateFaces')
        ? h('button', { type: 'button', class: 'secondary', 'aria-label': `Make user from cluster ${c.ClusterId}`, onclick: () => makeUser(c) }, 'Make user')
        : ''),
    ]);
    clear(results, rows.length ? table(plural(rows.length, 'cluster'), [
      'Cluster ID', { label: 'Faces', num: true }, { label: 'Cohesion', num: true }, 'Representative image', 'Images of its faces', 'Actions',
    ], rows) : h('p', { class: 'muted' }, 'No clusters: no two faces are alike enough.'));
    const button = h('button', { type: 'button', class: 'secondary' }, 'More clusters');
    button.addEventListener('click', async () => {
      button.disabled = true;
      try { await load(); } catch (error) { button.disabled = false; announce(errorText(error)); }
    });
    clear(more, next ? button : '');
  }

  async function makeUser(cluster) {
    const userId = await promptDialog(`Make a user of cluster ${cluster.ClusterId} (${plural(cluster.FaceIds.length, 'face')})?`,
      'User ID', `${USER_PREFIX}${cluster.ClusterId}`, 'Make user');
    if (userId === null) return;
    try {
      try {
        await op('CreateUser', { CollectionId: collectionId, UserId: userId });
      } catch (error) {
        if (error.code !== 'ConflictException') throw error; // named before: add the faces to it
      }
      // The representative first; the service refuses a user more faces than its limit.
      const order = [cluster.RepresentativeFaceId, ...cluster.FaceIds.filter((f) => f !== cluster.RepresentativeFaceId)];
      const kept = order.slice(0, session.Limits.FacesPerUser);
      const result = await op('AssociateFaces', { CollectionId: collectionId, UserId: userId, FaceIds: kept });
      const refused = (result.UnsuccessfulFaceAssociations || []).length + order.length - kept.length;
      const done = `User ${userId}: ${plural((result.AssociatedFaces || []).length, 'face')} associated${refused ? `, ${refused} not associated` : ''}.`;
      made.set(cluster.ClusterId, done);
      render();
      announce(done);
      await onUsersChanged(); // the Users list below; the clusters shown stay
    } catch (error) { announce(errorText(error)); }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    request = {
      CollectionId: collectionId,
      ClusterThreshold: Number(threshold.value),
      MinClusterSize: Number(minSize.value),
      MaxResults: Number(perPage.value),
      IncludeUserFaces: withUsers.checked,
    };
    shown.length = 0;
    made.clear();
    next = null;
    delete summary.dataset.unclustered;
    summary.textContent = 'Finding people…';
    clear(results);
    clear(more);
    try { await load(); } catch (error) { summary.textContent = ''; clear(results, h('p', { class: 'error', role: 'alert' }, errorText(error))); }
  });

  return h('div', { id: 'clusters' }, h('h2', {}, 'Find people'),
    h('p', { class: 'muted' }, 'Groups the faces that belong to no user into people; a false merge puts two people under one name, so the default threshold favours precision.'),
    form, summary, results, more);
}
