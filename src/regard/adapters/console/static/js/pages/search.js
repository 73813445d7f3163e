// Search: a probe image against a collection, matches with similarity and estimated false-match rate;
// with RecognizeFaces (when the server offers it), every face of a crowd photo named on the image.

import { imageParam, op } from '../api.js';
import { announce, clear, errorText, field, fmt, h, table } from '../dom.js';
import { COLORS, drawFaces, loadImage } from '../draw.js';
import { collectionSelect, faceName } from './common.js';
import { plural } from './detect.js';

export function renderSearch(main, session) {
  const collection = collectionSelect('collection');
  const probe = h('input', { type: 'file', accept: 'image/jpeg,image/png', name: 'probe' });
  const threshold = h('input', { type: 'number', min: '0', max: '100', step: '1', value: '80', name: 'threshold' });
  const maxFaces = h('input', { type: 'number', min: '1', max: '4096', step: '1', value: '10', name: 'max-faces' });
  const output = h('div', { id: 'search-result' });
  const recognize = session.Operations.includes('RecognizeFaces');
  const buttons = [h('button', { type: 'submit', value: 'search' }, 'Search')];
  if (recognize) buttons.push(h('button', { type: 'submit', value: 'recognize', class: 'secondary' }, 'Name every face'));
  const form = h('form', { class: 'panel inline' },
    field('Collection', collection), field('Probe image', probe), field('Similarity threshold (%)', threshold),
    field('Max matches', maxFaces), ...buttons);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!collection.value || !probe.files[0]) {
      clear(output, h('p', { class: 'error', role: 'alert' }, 'Choose a collection and a probe image.'));
      return;
    }
    const mode = event.submitter?.value || 'search';
    clear(output, h('p', { class: 'muted' }, 'Searching…'));
    try {
      const img = await loadImage(probe.files[0]);
      const params = {
        CollectionId: collection.value, Image: await imageParam(probe.files[0]), FaceMatchThreshold: Number(threshold.value || 80),
      };
      if (mode === 'recognize') showRecognized(img, await op('RecognizeFaces', params));
      else showMatches(img, await op('SearchFacesByImage', { ...params, MaxFaces: Number(maxFaces.value || 10) }));
    } catch (error) {
      clear(output, h('p', { class: 'error', role: 'alert' }, errorText(error)));
    }
  });

  function showMatches(img, result) {
    const matches = result.FaceMatches || [];
    const headline = matches.length ? plural(matches.length, 'match', 'matches') : 'No match';
    const best = matches[0];
    clear(output,
      h('p', { class: 'count', id: 'search-headline' }, headline),
      drawFaces(img, [{ box: result.SearchedFaceBoundingBox, label: best ? `${faceName(best.Face)} ${fmt.pct(best.Similarity)}` : 'no match', color: best ? COLORS.match : COLORS.other }],
        `Probe photo, the searched face outlined: ${headline}`),
      table('Matches, most similar first', [
        'Face ID', 'ExternalImageId', 'User', { label: 'Similarity', num: true },
        { label: 'Estimated false-match rate', num: true }, { label: 'Upper bound', num: true },
      ], matches.map((m) => [h('span', { class: 'mono' }, m.Face.FaceId), m.Face.ExternalImageId || '', m.Face.UserId || '',
        fmt.pct(m.Similarity), fmt.fmr(m.EstimatedFalseMatchRate), fmt.fmr(m.FalseMatchRateUpperBound)])));
    announce(headline);
  }

  // RecognizeFaces (a Regard operation, offered by newer servers): RecognizedFaces [{Face, FaceMatches}] and
  // UnrecognizedFaces [{Face, Reasons}]; every face is drawn, named or marked unknown.
  function showRecognized(img, result) {
    const named = (result.RecognizedFaces || []).map((item) => {
      const best = (item.FaceMatches || [])[0] || {};
      return { box: item.Face?.BoundingBox, who: faceName(best.Face), similarity: best.Similarity, fmr: best.EstimatedFalseMatchRate };
    });
    const unknown = (result.UnrecognizedFaces || []).map((item) => ({ box: item.Face?.BoundingBox, reasons: (item.Reasons || []).join(', ') }));
    const total = named.length + unknown.length;
    clear(output,
      h('p', { class: 'count', id: 'search-headline' }, `${plural(total, 'face')}, ${named.length} named`),
      drawFaces(img, [
        ...named.map((f) => ({ box: f.box, label: `${f.who} ${fmt.pct(f.similarity)}`, color: COLORS.match })),
        ...unknown.map((f) => ({ box: f.box, color: COLORS.other })),
      ], `Photo with ${plural(total, 'face')}; ${named.length} named in green, the others in red`),
      table('Named faces', ['Name', { label: 'Similarity', num: true }, { label: 'Estimated false-match rate', num: true }],
        named.map((f) => [f.who, fmt.pct(f.similarity), fmt.fmr(f.fmr)])),
      h('p', { class: 'muted' }, `${plural(unknown.length, 'face')} not named (${[...new Set(unknown.map((f) => f.reasons))].join('; ') || 'none'}).`));
    announce(`${named.length} of ${plural(total, 'face')} named.`);
  }

  clear(main, h('h1', {}, 'Search a collection'),
    h('p', { class: 'muted' }, 'The largest face of the probe image is searched in the collection.'),
    form, output);
}
