#!/usr/bin/env node
'use strict';
// Compares two output sets of one model for scripts/zoo.sh and prints one line of JSON:
//   node zoo_compare.js REF_DIR TEST_DIR
// REF_DIR holds one sub-folder per sample with outK.npy (litert_run.js --samples). TEST_DIR is
// either the same layout, or one folder of outK.npy whose leading dimension stacks the samples
// in sample order (`qcal run --input STACKED.npy --output-dir`). Prints
//   {"samples":N,"sqnr_db":[per output],"min_sqnr_db":X,"identical":F,"max_diff":D,"dtype":T}
// SQNR = 10 log10(sum ref^2 / sum (ref - test)^2) over all samples (null when identical);
// identical = the share of bytes-equal elements; max_diff = largest |ref - test| (in LSB for
// integer outputs).
const fs = require('fs');
const path = require('path');
const npy = require('../tests/interop/npy');

const [refDir, testDir] = process.argv.slice(2);
if (!refDir || !testDir) { console.error('usage: zoo_compare.js REF_DIR TEST_DIR'); process.exit(2); }
const num = (s) => Number(/(\d+)$/.exec(s)[1]);
const samples = fs.readdirSync(refDir).filter((d) => /^sample\d+$/.test(d) && fs.statSync(path.join(refDir, d)).isDirectory())
  .sort((a, b) => num(a) - num(b));
if (!samples.length) { console.error(`zoo_compare: no sampleK folders in ${refDir}`); process.exit(2); }
const stacked = !fs.existsSync(path.join(testDir, samples[0]));
const outs = fs.readdirSync(path.join(refDir, samples[0])).filter((f) => /^out\d+\.npy$/.test(f)).sort((a, b) => num(a.slice(0, -4)) - num(b.slice(0, -4)));
const res = { samples: samples.length, sqnr_db: [], min_sqnr_db: null, identical: 0, max_diff: 0, dtype: null };
let elements = 0, same = 0;
for (const f of outs) {
  let signal = 0, noise = 0, offset = 0;
  const stack = stacked ? npy.read(path.join(testDir, f)) : null;
  const stackTyped = stack ? npy.typed(stack) : null;
  for (const s of samples) {
    const ra = npy.read(path.join(refDir, s, f));
    const a = npy.typed(ra);
    let b;
    if (stacked) {
      if (stack.dtype !== ra.dtype) { console.error(`zoo_compare: ${f}: ${ra.dtype} vs ${stack.dtype}`); process.exit(1); }
      b = stackTyped.subarray(offset, offset + a.length);
      offset += a.length;
    } else {
      const rb = npy.read(path.join(testDir, s, f));
      b = npy.typed(rb);
    }
    if (b.length !== a.length) { console.error(`zoo_compare: ${s}/${f}: ${a.length} vs ${b.length} elements`); process.exit(1); }
    res.dtype = ra.dtype;
    for (let i = 0; i < a.length; i++) {
      const x = Number(a[i]), y = Number(b[i]);
      signal += x * x; noise += (x - y) * (x - y);
      elements++;
      if (Object.is(x, y) || x === y) same++;
      const d = Math.abs(x - y);
      if (d > res.max_diff || Number.isNaN(d)) res.max_diff = Number.isNaN(d) ? 'NaN' : d;
    }
  }
  if (stacked && offset !== stackTyped.length) { console.error(`zoo_compare: ${f}: ${stackTyped.length} stacked elements for ${offset} reference ones`); process.exit(1); }
  const sqnr = noise === 0 ? null : 10 * Math.log10(signal / noise);
  res.sqnr_db.push(sqnr === null ? null : Number(sqnr.toFixed(2)));
}
const finite = res.sqnr_db.filter((x) => x !== null && Number.isFinite(x));
res.min_sqnr_db = finite.length ? Math.min(...finite) : (res.sqnr_db.some((x) => x !== null) ? -Infinity : null);
res.identical = elements ? Number((same / elements).toFixed(6)) : 0;
console.log(JSON.stringify(res));
