// Compare: the source face against every face of the target, with similarity and estimated false-match rate.

import { imageParam, op } from '../api.js';
import { announce, clear, errorText, field, fmt, h, table } from '../dom.js';
import { COLORS, drawFaces, loadImage } from '../draw.js';
import { plural } from './detect.js';

export function renderCompare(main) {
  const source = h('input', { type: 'file', accept: 'image/jpeg,image/png', name: 'source' });
  const target = h('input', { type: 'file', accept: 'image/jpeg,image/png', name: 'target' });
  const threshold = h('input', { type: 'number', min: '0', max: '100', step: '1', value: '80', name: 'threshold' });
  const output = h('div', { id: 'compare-result' });
  const form = h('form', { class: 'panel inline' },
    field('Source image', source), field('Target image', target), field('Similarity threshold (%)', threshold),
    h('button', { type: 'submit' }, 'Compare'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!source.files[0] || !target.files[0]) {
      clear(output, h('p', { class: 'error', role: 'alert' }, 'Choose a source image and a target image.'));
      return;
    }
    clear(output, h('p', { class: 'muted' }, 'Comparing…'));
    try {
      const [srcImg, tgtImg] = [await loadImage(source.files[0]), await loadImage(target.files[0])];
      const result = await op('CompareFaces', {
        SourceImage: await imageParam(source.files[0]),
        TargetImage: await imageParam(target.files[0]),
        SimilarityThreshold: Number(threshold.value || 80),
      });
      const matches = result.FaceMatches || [];
      const unmatched = result.UnmatchedFaces || [];
      const targetFaces = [
        ...matches.map((m, i) => ({ box: m.Face.BoundingBox, label: `${i + 1}: ${fmt.pct(m.Similarity)}`, color: COLORS.match })),
        ...unmatched.map((f) => ({ box: f.BoundingBox, color: COLORS.other })),
      ];
      const headline = matches.length ? `Matched: ${plural(matches.length, 'face')}` : 'No match';
      clear(output,
        h('p', { class: 'count', id: 'compare-headline' }, headline),
        h('div', { class: 'pair' },
          h('div', {}, h('h2', {}, 'Source'), drawFaces(srcImg, [{ box: result.SourceImageFace?.BoundingBox, label: 'source', color: COLORS.probe }], 'Source photo, the compared face outlined')),
          h('div', {}, h('h2', {}, 'Target'), drawFaces(tgtImg, targetFaces, `Target photo: ${headline}; matched faces in green, others in red`))),
        table('Matches', [
          { label: 'Match', num: true }, { label: 'Similarity', num: true },
          { label: 'Estimated false-match rate', num: true }, { label: 'Upper bound', num: true },
        ], matches.map((m, i) => [String(i + 1), fmt.pct(m.Similarity), fmt.fmr(m.EstimatedFalseMatchRate), fmt.fmr(m.FalseMatchRateUpperBound)])),
        h('p', { class: 'muted' }, `${plural(unmatched.length, 'other face')} below the threshold in the target.`));
      announce(headline);
    } catch (error) {
      clear(output, h('p', { class: 'error', role: 'alert' }, errorText(error)));
    }
  });
  clear(main, h('h1', {}, 'Compare faces'),
    h('p', { class: 'muted' }, 'The largest face of the source image is compared with every face of the target image.'),
    form, output);
}
