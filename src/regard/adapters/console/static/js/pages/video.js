// Video: a face search over a video file in a bucket, its progress, and a timeline of who appears when.

import { op } from '../api.js';
import { announce, clear, errorText, field, fmt, h, table } from '../dom.js';
import { collectionSelect, faceName } from './common.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

export function renderVideo(main, session) {
  const buckets = session.Buckets || [];
  const bucket = buckets.length
    ? h('select', { name: 'bucket' }, buckets.map((b) => h('option', { value: b }, b)))
    : h('input', { type: 'text', name: 'bucket' });
  const name = h('input', { type: 'text', name: 'video-name', required: true, placeholder: 'clips/entrance.mp4' });
  const collection = collectionSelect('collection');
  const threshold = h('input', { type: 'number', min: '0', max: '100', step: '1', value: '80', name: 'threshold' });
  const output = h('div', { id: 'video-result' });
  const form = h('form', { class: 'panel inline' },
    field('Bucket', bucket), field('Video file', name), field('Collection', collection), field('Similarity threshold (%)', threshold),
    h('button', { type: 'submit' }, 'Start face search'));
  let timer = null;

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (timer) window.clearTimeout(timer);
    try {
      const started = await op('StartFaceSearch', {
        Video: { S3Object: { Bucket: bucket.value.trim(), Name: name.value.trim() } },
        CollectionId: collection.value, FaceMatchThreshold: Number(threshold.value || 80),
      });
      announce(`Face search started: job ${started.JobId}.`);
      poll(started.JobId, Date.now());
    } catch (error) {
      clear(output, h('p', { class: 'error', role: 'alert' }, errorText(error)));
    }
  });

  async function poll(jobId, since) {
    try {
      const persons = [];
      let page = await op('GetFaceSearch', { JobId: jobId, SortBy: 'TIMESTAMP', MaxResults: 1000 });
      const status = page.JobStatus;
      if (status === 'IN_PROGRESS') {
        const seconds = Math.round((Date.now() - since) / 1000);
        clear(output, h('p', {}, h('label', { for: 'video-progress' }, `Job ${jobId}: in progress (${seconds} s)`)),
          h('progress', { id: 'video-progress' }));
        timer = window.setTimeout(() => poll(jobId, since), 1500);
        return;
      }
      persons.push(...(page.Persons || []));
      while (page.NextToken && persons.length < 20000) {
        page = await op('GetFaceSearch', { JobId: jobId, SortBy: 'TIMESTAMP', MaxResults: 1000, NextToken: page.NextToken });
        persons.push(...(page.Persons || []));
      }
      showTimeline(jobId, status, page, persons);
    } catch (error) {
      clear(output, h('p', { class: 'error', role: 'alert' }, errorText(error)));
    }
  }

  function showTimeline(jobId, status, page, persons) {
    if (status !== 'SUCCEEDED') {
      clear(output, h('p', { class: 'banner bad' }, `Job ${jobId} ${status}: ${page.StatusMessage || ''}`));
      announce(`Job ${status}.`);
      return;
    }
    const lanes = new Map();
    for (const p of persons) {
      const best = (p.FaceMatches || [])[0];
      if (!best) continue;
      const who = faceName(best.Face);
      if (!lanes.has(who)) lanes.set(who, []);
      lanes.get(who).push({ t: p.Timestamp, similarity: best.Similarity });
    }
    const duration = page.VideoMetadata?.DurationMillis || Math.max(1, ...persons.map((p) => p.Timestamp));
    const names = [...lanes.keys()];
    const left = 170;
    const width = 900;
    const laneHeight = 28;
    const height = 40 + laneHeight * Math.max(1, names.length);
    const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'timeline-title' });
    chart.append(svg('title', { id: 'timeline-title' }, `Who appears when: ${names.length} people over ${(duration / 1000).toFixed(1)} s`));
    const x = (t) => left + ((width - left - 10) * t) / duration;
    names.forEach((who, i) => {
      const y = 20 + i * laneHeight + laneHeight / 2;
      chart.append(svg('line', { x1: left, x2: width - 10, y1: y, y2: y, class: 'lane' }));
      chart.append(svg('text', { x: 6, y: y + 4 }, who.length > 24 ? `${who.slice(0, 23)}…` : who));
      for (const hit of lanes.get(who)) chart.append(svg('circle', { cx: x(hit.t), cy: y, r: 4, class: 'hit' }));
    });
    const axisY = height - 12;
    chart.append(svg('line', { x1: left, x2: width - 10, y1: axisY - 8, y2: axisY - 8, class: 'axis' }));
    for (let k = 0; k <= 5; k += 1) {
      const t = (duration * k) / 5;
      chart.append(svg('text', { x: x(t) - 10, y: axisY + 4 }, `${(t / 1000).toFixed(1)} s`));
    }
    const rows = names.map((who) => {
      const hits = lanes.get(who);
      return [who, String(hits.length), `${(hits[0].t / 1000).toFixed(2)} s`, `${(hits[hits.length - 1].t / 1000).toFixed(2)} s`,
        fmt.pct(Math.max(...hits.map((hit) => hit.similarity)))];
    });
    clear(output, h('p', { class: 'count', id: 'video-headline' }, `${names.length} ${names.length === 1 ? 'person' : 'people'} recognised`),
      h('div', { class: 'timeline' }, chart),
      table('Appearances', ['Who', { label: 'Sightings', num: true }, { label: 'First', num: true }, { label: 'Last', num: true }, { label: 'Best similarity', num: true }], rows));
    announce(`Face search finished: ${names.length} recognised.`);
  }

  clear(main, h('h1', {}, 'Video face search'),
    h('p', { class: 'muted' }, buckets.length
      ? 'Search a video file of a bucket served by this server for the faces of a collection.'
      : 'This server serves no buckets: start it with --bucket NAME=DIR to search videos.'),
    form, output);
}
