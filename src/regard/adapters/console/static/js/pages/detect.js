// Detect: boxes and landmarks on the photo, the face count, and pose and quality per face.

import { imageParam, op } from '../api.js';
import { announce, clear, errorText, field, fmt, h, table } from '../dom.js';
import { COLORS, drawFaces, loadImage } from '../draw.js';

export function plural(n, noun, nouns = `${noun}s`) {
  return `${n} ${n === 1 ? noun : nouns}`;
}

export function renderDetect(main) {
  const input = h('input', { type: 'file', accept: 'image/jpeg,image/png', name: 'image' });
  const output = h('div', { id: 'detect-result' });
  const run = async () => {
    const file = input.files[0];
    if (!file) return;
    clear(output, h('p', { class: 'muted' }, 'Detecting…'));
    try {
      const [img, image] = [await loadImage(file), await imageParam(file)];
      const result = await op('DetectFaces', { Image: image, Attributes: ['DEFAULT'] });
      const faces = result.FaceDetails || [];
      const count = plural(faces.length, 'face');
      const drawn = faces.map((face, i) => ({
        box: face.BoundingBox, label: String(i + 1), color: COLORS.face, landmarks: face.Landmarks,
      }));
      const rows = faces.map((face, i) => [
        String(i + 1), fmt.num(face.Confidence, 2),
        fmt.num(face.Pose?.Roll), fmt.num(face.Pose?.Yaw), fmt.num(face.Pose?.Pitch),
        fmt.num(face.Quality?.Brightness), fmt.num(face.Quality?.Sharpness),
      ]);
      clear(output,
        h('p', { class: 'count', id: 'face-count' }, count),
        drawFaces(img, drawn, `${file.name} with ${count} outlined and numbered`),
        table('Pose (degrees) and quality (0-100) per face', [
          { label: 'Face', num: true }, { label: 'Confidence', num: true },
          { label: 'Roll', num: true }, { label: 'Yaw', num: true }, { label: 'Pitch', num: true },
          { label: 'Brightness', num: true }, { label: 'Sharpness', num: true },
        ], rows));
      announce(`${count} detected.`);
    } catch (error) {
      clear(output, h('p', { class: 'error', role: 'alert' }, errorText(error)));
    }
  };
  input.addEventListener('change', run);
  const form = h('form', { class: 'panel inline' }, field('Image', input), h('button', { type: 'submit' }, 'Detect faces'));
  form.addEventListener('submit', (event) => { event.preventDefault(); run(); });
  clear(main, h('h1', {}, 'Detect faces'),
    h('p', { class: 'muted' }, 'Choose a JPEG or PNG photo. It is sent to the server for this request only; nothing is stored.'),
    form, output);
}
