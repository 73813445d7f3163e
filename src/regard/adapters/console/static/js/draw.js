// Draw a photo on a canvas with face boxes, landmarks and labels (ratios of the image size, as Rekognition gives).

import { h } from './dom.js';

export function loadImage(file) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => { URL.revokeObjectURL(url); reject(new Error('This file is not an image the browser can show.')); };
    img.src = url;
  });
}

// faces: [{box, label?, color?, landmarks?}]
export function drawFaces(img, faces, description) {
  const canvas = h('canvas', { role: 'img', 'aria-label': description });
  const width = img.naturalWidth;
  const height = img.naturalHeight;
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const line = Math.max(2, Math.round(Math.min(width, height) / 250));
  const fontSize = Math.max(12, Math.round(Math.min(width, height) / 40));
  for (const face of faces) {
    const box = face.box;
    if (!box) continue;
    const x = box.Left * width;
    const y = box.Top * height;
    const w = box.Width * width;
    const hgt = box.Height * height;
    const color = face.color || '#22d3ee';
    ctx.lineWidth = line;
    ctx.strokeStyle = color;
    ctx.strokeRect(x, y, w, hgt);
    const dot = Math.max(1, Math.min(line, w / 40));  // landmarks stay small on small faces
    for (const point of face.landmarks || []) {
      ctx.fillStyle = '#facc15';
      ctx.beginPath();
      ctx.arc(point.X * width, point.Y * height, dot, 0, Math.PI * 2);
      ctx.fill();
    }
    if (face.label) {
      const pad = 3;
      const size = Math.round(Math.max(10, Math.min(fontSize, hgt * 0.45)));
      ctx.font = `600 ${size}px system-ui, sans-serif`;
      const textWidth = ctx.measureText(face.label).width;
      const top = y - size - 2 * pad >= 0 ? y - size - 2 * pad : y + hgt;
      ctx.fillStyle = color;
      ctx.fillRect(x - line / 2, top, textWidth + 2 * pad, size + 2 * pad);
      ctx.fillStyle = '#111827';
      ctx.textBaseline = 'top';
      ctx.fillText(face.label, x + pad - line / 2, top + pad);
    }
  }
  return h('div', { class: 'figure' }, canvas);
}

export const COLORS = { face: '#22d3ee', match: '#4ade80', other: '#f87171', probe: '#facc15' };
