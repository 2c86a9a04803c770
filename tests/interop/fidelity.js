#!/usr/bin/env node
'use strict';
// Fidelity of a quantized model against its float model, over many samples:
//   node fidelity.js REF_DIR TEST_DIR [--min-sqnr DB] [--mask K --min-agreement F] [--json OUT]
//                    [--min-exact F] [--max-lsb N] [--top1 K [--min-top1 F]]
// REF_DIR and TEST_DIR hold one sub-folder per sample with outK.npy (as litert_run.js or
// qcal run write them). Per output: SQNR = 10 log10(sum ref^2 / sum (ref - test)^2) over
// all samples, and cosine similarity. --mask K: output K is a probability mask; report the
// share of pixels on the same side of 0.5. Integer outputs (an executor against the runtime)
// also get the share of identical elements and the largest difference in LSB, over all
// outputs and samples; --min-exact / --max-lsb make them pass/fail criteria. --top1 K: output K
// holds class scores; report the share of samples whose top class is the same (ties go to
// the lower class), and --min-top1 F makes it a criterion.
const fs = require('fs');
const path = require('path');
const npy = require('./npy');

const args = process.argv.slice(2);
const o = { dirs: [], minSqnr: null, mask: null, minAgreement: null, json: null, minExact: null, maxLsb: null, top1: null,
  minTop1: null };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--min-sqnr') o.minSqnr = Number(args[++i]);
  else if (a === '--mask') o.mask = Number(args[++i]);
  else if (a === '--min-agreement') o.minAgreement = Number(args[++i]);
  else if (a === '--json') o.json = args[++i];
  else if (a === '--min-exact') o.minExact = Number(args[++i]);
  else if (a === '--max-lsb') o.maxLsb = Number(args[++i]);
  else if (a === '--top1') o.top1 = Number(args[++i]);
  else if (a === '--min-top1') o.minTop1 = Number(args[++i]);
  else if (a.startsWith('--')) { console.error(`fidelity: unknown option ${a}`); process.exit(2); }
  else o.dirs.push(a);
}
if (o.dirs.length !== 2) { console.error('usage: fidelity.js REF_DIR TEST_DIR [--min-sqnr DB] [--mask K --min-agreement F] [--json OUT]'); process.exit(2); }

const samples = fs.readdirSync(o.dirs[0]).filter((d) => fs.statSync(path.join(o.dirs[0], d)).isDirectory()).sort();
if (!samples.length) { console.error(`fidelity: no sample folders in ${o.dirs[0]}`); process.exit(2); }
const acc = {};  // output -> {signal, noise, dot, nref, ntest, agree, pixels}
const ints = { elements: 0, exact: 0, maxLsb: 0 };
const top1 = { samples: 0, same: 0 };
const argmax = (v) => { let k = 0; for (let i = 1; i < v.length; i++) if (Number(v[i]) > Number(v[k])) k = i; return k; };
for (const s of samples) {
  const files = fs.readdirSync(path.join(o.dirs[0], s)).filter((f) => /^out\d+\.npy$/.test(f));
  for (const f of files) {
    const aArr = npy.read(path.join(o.dirs[0], s, f));
    const isInt = ['int8', 'uint8', 'int16', 'int32'].includes(aArr.dtype);
    const a = npy.typed(aArr);
    const bPath = path.join(o.dirs[1], s, f);
    if (!fs.existsSync(bPath)) { console.error(`fidelity: missing ${bPath}`); process.exit(1); }
    const b = npy.typed(npy.read(bPath));
    if (a.length !== b.length) { console.error(`fidelity: ${s}/${f}: ${a.length} vs ${b.length} elements`); process.exit(1); }
    const k = Number(f.slice(3, -4));
    if (k === o.top1) { top1.samples++; if (argmax(a) === argmax(b)) top1.same++; }
    const r = acc[k] || (acc[k] = { signal: 0, noise: 0, dot: 0, nref: 0, ntest: 0, agree: 0, pixels: 0 });
    for (let i = 0; i < a.length; i++) {
      const x = Number(a[i]), y = Number(b[i]);
      r.signal += x * x; r.noise += (x - y) * (x - y); r.dot += x * y; r.nref += x * x; r.ntest += y * y;
      if (k === o.mask) { r.pixels++; if ((x > 0.5) === (y > 0.5)) r.agree++; }
      if (isInt) { ints.elements++; if (x === y) ints.exact++; ints.maxLsb = Math.max(ints.maxLsb, Math.abs(x - y)); }
    }
  }
}
let ok = true;
const report = { samples: samples.length, outputs: [] };
for (const k of Object.keys(acc).map(Number).sort((x, y) => x - y)) {
  const r = acc[k];
  const sqnr = r.noise === 0 ? Infinity : 10 * Math.log10(r.signal / r.noise);
  const cosine = r.nref && r.ntest ? r.dot / Math.sqrt(r.nref * r.ntest) : 1;
  const row = { output: k, sqnr_db: sqnr, cosine };
  let line = `out${k}: SQNR ${sqnr.toFixed(2)} dB, cosine ${cosine.toFixed(5)}`;
  if (k === o.mask) {
    row.mask_agreement = r.agree / r.pixels;
    line += `, mask agreement ${(100 * row.mask_agreement).toFixed(2)}%`;
    if (o.minAgreement != null && row.mask_agreement < o.minAgreement) { ok = false; line += ` FAIL (< ${100 * o.minAgreement}%)`; }
  } else if (o.minSqnr != null && !(sqnr >= o.minSqnr)) { ok = false; line += ` FAIL (< ${o.minSqnr} dB)`; }
  console.log(line);
  report.outputs.push(row);
}
if (ints.elements) {
  report.integer = { elements: ints.elements, exact_fraction: ints.exact / ints.elements, max_lsb: ints.maxLsb };
  let line = `integer outputs: ${ints.exact}/${ints.elements} identical (${(100 * ints.exact / ints.elements).toFixed(3)}%), max ${ints.maxLsb} LSB`;
  if (o.minExact != null && ints.exact / ints.elements < o.minExact) { ok = false; line += ` FAIL (< ${100 * o.minExact}% identical)`; }
  if (o.maxLsb != null && ints.maxLsb > o.maxLsb) { ok = false; line += ` FAIL (> ${o.maxLsb} LSB)`; }
  console.log(line);
}
if (o.top1 != null) {
  report.top1_agreement = top1.samples ? top1.same / top1.samples : 0;
  let line = `top-1 agreement (out${o.top1}): ${top1.same}/${top1.samples} (${(100 * report.top1_agreement).toFixed(1)}%)`;
  if (!top1.samples) { ok = false; line += ' FAIL (no samples)'; }
  if (o.minTop1 != null && report.top1_agreement < o.minTop1) { ok = false; line += ` FAIL (< ${(100 * o.minTop1).toFixed(1)}%)`; }
  console.log(line);
}
if (o.json) fs.writeFileSync(o.json, JSON.stringify(report, null, 1) + '\n');
console.log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
