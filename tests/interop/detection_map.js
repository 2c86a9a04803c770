#!/usr/bin/env node
'use strict';
// mAP@0.5 of one detector's TFLite_Detection_PostProcess outputs against another's, from the
// runtime's .npy files (litert_run.js --samples writes one sub-folder per sample):
//   node detection_map.js REF_DIR TEST_DIR [--min-score S] [--min-map F]
// Per sample: out0 boxes [1,N,4], out1 classes [1,N], out2 scores [1,N], out3 count [1].
// REF_DIR's detections are the ground truth, TEST_DIR's are ranked by score; a detection is a
// true positive when it overlaps an unmatched truth box of its class in the same sample with
// IoU >= 0.5; AP per class with all-point interpolation (PASCAL VOC 2010+), averaged over the
// classes present in the truth: the same definition as `qcal report --task detect`
// (map50_vs_float). --min-score keeps only detections scoring at least S on both sides.
const fs = require('fs');
const path = require('path');
const npy = require('./npy');

const args = process.argv.slice(2);
const o = { dirs: [], minScore: 0, minMap: null };
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--min-score') o.minScore = Number(args[++i]);
  else if (args[i] === '--min-map') o.minMap = Number(args[++i]);
  else if (args[i].startsWith('--')) { console.error(`detection_map: unknown option ${args[i]}`); process.exit(2); }
  else o.dirs.push(args[i]);
}
if (o.dirs.length !== 2) { console.error('usage: detection_map.js REF_DIR TEST_DIR [--min-score S] [--min-map F]'); process.exit(2); }

function detections(dir, sample) {
  const read = (k) => npy.typed(npy.read(path.join(dir, sample, `out${k}.npy`)));
  const boxes = read(0), classes = read(1), scores = read(2), count = read(3);
  const n = Math.min(Number(count[0]), classes.length);
  const out = [];
  for (let i = 0; i < n; i++) {
    if (scores[i] < o.minScore) continue;
    out.push({ box: Array.from(boxes.slice(4 * i, 4 * i + 4), Number), cls: Math.round(Number(classes[i])), score: Number(scores[i]), sample });
  }
  return out;
}

function iou(a, b) {  // [ymin, xmin, ymax, xmax]
  const ih = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iw = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ih * iw;
  const area = (x) => Math.max(0, x[2] - x[0]) * Math.max(0, x[3] - x[1]);
  const u = area(a) + area(b) - inter;
  return u > 0 ? inter / u : 0;
}

const samples = fs.readdirSync(o.dirs[0]).filter((d) => fs.statSync(path.join(o.dirs[0], d)).isDirectory()).sort();
if (!samples.length) { console.error(`detection_map: no sample folders in ${o.dirs[0]}`); process.exit(2); }
const truth = [], found = [];
for (const s of samples) {
  if (!fs.existsSync(path.join(o.dirs[1], s))) { console.error(`detection_map: missing ${path.join(o.dirs[1], s)}`); process.exit(1); }
  truth.push(...detections(o.dirs[0], s));
  found.push(...detections(o.dirs[1], s));
}
const classes = [...new Set(truth.map((d) => d.cls))].sort((a, b) => a - b);
let sum = 0;
for (const c of classes) {
  const gt = truth.filter((d) => d.cls === c), det = found.filter((d) => d.cls === c).sort((a, b) => b.score - a.score);
  const used = new Array(gt.length).fill(false);
  let tp = 0, fp = 0;
  const precision = [], recall = [];
  for (const d of det) {
    let best = -1, bestIou = 0.5;
    gt.forEach((g, k) => { if (!used[k] && g.sample === d.sample) { const v = iou(d.box, g.box); if (v >= bestIou) { bestIou = v; best = k; } } });
    if (best >= 0) { used[best] = true; tp++; } else fp++;
    precision.push(tp / (tp + fp)); recall.push(tp / gt.length);
  }
  let ap = 0, prev = 0;
  for (let i = 0; i < precision.length; i++) {
    ap += (recall[i] - prev) * Math.max(...precision.slice(i));
    prev = recall[i];
  }
  sum += ap;
}
const map = classes.length ? sum / classes.length : (found.length ? 0 : 1);
const pass = o.minMap === null || map >= o.minMap;
console.log(`${pass ? 'PASS' : 'FAIL'}: mAP50 ${map.toFixed(4)} over ${samples.length} samples, ${classes.length} classes, ` +
  `${truth.length} reference and ${found.length} test detections${o.minScore ? ` (score >= ${o.minScore})` : ''}`);
process.exit(pass ? 0 : 1);
