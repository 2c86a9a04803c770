#!/usr/bin/env node
'use strict';
// Fidelity of a quantized model against its float model, over many samples:
//   node fidelity.js REF_DIR TEST_DIR [--min-sqnr DB] [--mask K --min-agreement F] [--json OUT]
//                    [--min-exact F] [--max-lsb N] [--top1 K [--min-top1 F]] [--identical]
//                    [--dequantize-test INSPECT.json] [--baseline FIDELITY.json --max-loss DB]
//                    [--out-min-sqnr K:DB]... [--agree K:T:F]...
// REF_DIR and TEST_DIR hold one sub-folder per sample with outK.npy (as litert_run.js or
// qcal run write them). Per output: SQNR = 10 log10(sum ref^2 / sum (ref - test)^2) over
// all samples, and cosine similarity. --mask K: output K is a probability mask; report the
// share of pixels on the same side of 0.5. Integer outputs (an executor against the runtime)
// also get the share of identical elements and the largest difference in LSB, over all
// outputs and samples; --min-exact / --max-lsb make them pass/fail criteria. --top1 K: output K
// holds class scores; report the share of samples whose top class is the same (ties go to
// the lower class), and --min-top1 F makes it a criterion. --identical: every output must
// equal the reference exactly. --dequantize-test: TEST_DIR's outputs are integers of a model
// with integer outputs (--io int8/uint8); dequantize output K with the scale and zero point
// that `qcal inspect --json` of that model gives its output K. --baseline (another run's
// --json) --max-loss DB: no output's SQNR may fall more than DB below the baseline's.
// Per output: --out-min-sqnr K:DB, output K's SQNR >= DB; --agree K:T:F, the share of output
// K's elements on the same side of T as the reference's (a decision or a mask) >= F.
// --float-in-baseline K,...: outputs the baseline's model computes in float where the test's
// model ends on the integer grid; their floor adds the grid's own rounding noise (the
// reference rounded to the test output's scale) to the baseline's noise.
const fs = require('fs');
const path = require('path');
const npy = require('./npy');

const args = process.argv.slice(2);
const o = { dirs: [], minSqnr: null, mask: null, minAgreement: null, json: null, minExact: null, maxLsb: null, top1: null,
  minTop1: null, identical: false, dequantizeTest: null, baseline: null, maxLoss: null,
  floatInBaseline: [], outMinSqnr: {}, agree: {} };
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
  else if (a === '--identical') o.identical = true;
  else if (a === '--dequantize-test') o.dequantizeTest = args[++i];
  else if (a === '--baseline') o.baseline = args[++i];
  else if (a === '--max-loss') o.maxLoss = Number(args[++i]);
  else if (a === '--out-min-sqnr' || a === '--agree') {
    const v = String(args[++i]).split(':').map(Number);
    if (v.length !== (a === '--agree' ? 3 : 2) || !v.every(Number.isFinite)) { console.error(`fidelity: bad ${a} '${args[i]}'`); process.exit(2); }
    if (a === '--agree') o.agree[v[0]] = { threshold: v[1], min: v[2] };
    else o.outMinSqnr[v[0]] = v[1];
  }
  else if (a === '--float-in-baseline') o.floatInBaseline = args[++i].split(',').filter((x) => x !== '').map(Number);
  else if (a.startsWith('--')) { console.error(`fidelity: unknown option ${a}`); process.exit(2); }
  else o.dirs.push(a);
}
if (o.dirs.length !== 2) { console.error('usage: fidelity.js REF_DIR TEST_DIR [--min-sqnr DB] [--mask K --min-agreement F] [--json OUT]'); process.exit(2); }

if ((o.baseline == null) !== (o.maxLoss == null) || (o.maxLoss != null && !(o.maxLoss >= 0))) {
  console.error('fidelity: --baseline and --max-loss (>= 0) go together'); process.exit(2);
}
// Output K's [scale, zero point] when TEST_DIR holds integers to dequantize.
let testQuant = null;
if (o.dequantizeTest) {
  const outs = JSON.parse(fs.readFileSync(o.dequantizeTest, 'utf8')).subgraphs[0].outputs;
  testQuant = outs.map((t) => {
    const q = t.quantization;
    if (!q || !q.scale || q.scale.length !== 1) { console.error(`fidelity: output ${t.name} is not quantized per tensor`); process.exit(1); }
    const range = { int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767] }[t.dtype];
    if (!range) { console.error(`fidelity: output ${t.name} is ${t.dtype}, not an integer to dequantize`); process.exit(1); }
    return [q.scale[0], q.zero_point[0], range];
  });
}
const samples = fs.readdirSync(o.dirs[0]).filter((d) => fs.statSync(path.join(o.dirs[0], d)).isDirectory()).sort();
if (!samples.length) { console.error(`fidelity: no sample folders in ${o.dirs[0]}`); process.exit(2); }
const acc = {};  // output -> {signal, noise, dot, nref, ntest, agree, pixels, gridNoise}
const newAcc = () => ({ signal: 0, noise: 0, dot: 0, nref: 0, ntest: 0, agree: 0, pixels: 0, gridNoise: 0, same: 0, n: 0 });
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
    const k = Number(f.slice(3, -4));
    let b = npy.typed(npy.read(bPath));
    if (testQuant) {
      if (!testQuant[k]) { console.error(`fidelity: ${bPath}: no output ${k} in ${o.dequantizeTest}`); process.exit(1); }
      const [scale, zero, [lo, hi]] = testQuant[k];
      b = Float64Array.from(b, (q) => scale * (Number(q) - zero));
      const r = acc[k] || (acc[k] = newAcc());
      for (let i = 0; i < a.length; i++) {  // the reference rounded to the test's grid
        const x = Number(a[i]), g = scale * (Math.min(hi, Math.max(lo, Math.round(x / scale) + zero)) - zero);
        r.gridNoise += (x - g) * (x - g);
      }
    }
    if (a.length !== b.length) { console.error(`fidelity: ${s}/${f}: ${a.length} vs ${b.length} elements`); process.exit(1); }
    if (k === o.top1) { top1.samples++; if (argmax(a) === argmax(b)) top1.same++; }
    const r = acc[k] || (acc[k] = newAcc());
    for (let i = 0; i < a.length; i++) {
      const x = Number(a[i]), y = Number(b[i]);
      r.signal += x * x; r.noise += (x - y) * (x - y); r.dot += x * y; r.nref += x * x; r.ntest += y * y;
      if (k === o.mask) { r.pixels++; if ((x > 0.5) === (y > 0.5)) r.agree++; }
      if (o.agree[k]) { r.n++; if ((x > o.agree[k].threshold) === (y > o.agree[k].threshold)) r.same++; }
      if (isInt) { ints.elements++; if (x === y) ints.exact++; ints.maxLsb = Math.max(ints.maxLsb, Math.abs(x - y)); }
    }
  }
}
const baseline = o.baseline ? JSON.parse(fs.readFileSync(o.baseline, 'utf8')) : null;
let ok = true;
for (const k of [...Object.keys(o.outMinSqnr), ...Object.keys(o.agree)].map(Number))
  if (!acc[k]) { ok = false; console.log(`FAIL: a bar names output ${k}, which the model does not have`); }
if (baseline && baseline.outputs.length !== Object.keys(acc).length) { ok = false; console.log(`FAIL: the baseline has ${baseline.outputs.length} outputs, this run ${Object.keys(acc).length}`); }
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
  if (o.outMinSqnr[k] != null && !(sqnr >= o.outMinSqnr[k])) { ok = false; line += ` FAIL (< ${o.outMinSqnr[k]} dB)`; }
  if (o.agree[k]) {
    const { threshold, min } = o.agree[k];
    row.agreement = { threshold, share: r.n ? r.same / r.n : 0 };
    line += `, ${(100 * row.agreement.share).toFixed(2)}% on the same side of ${threshold}`;
    if (!(row.agreement.share >= min)) { ok = false; line += ` FAIL (< ${(100 * min).toFixed(2)}%)`; }
  }
  if (o.identical && r.noise !== 0) { ok = false; line += ' FAIL (not identical)'; }
  if (o.baseline) {
    const base = baseline.outputs.find((x) => x.output === k);
    let expected = base ? (base.sqnr_db === null ? Infinity : base.sqnr_db) : NaN;
    if (o.floatInBaseline.includes(k)) {  // noise powers add: the baseline's, then the grid's
      expected = -10 * Math.log10(10 ** (-expected / 10) + r.gridNoise / r.signal);
      line += `, expected ${expected.toFixed(2)} dB with the output grid`;
    }
    if (!(sqnr >= expected - o.maxLoss)) { ok = false; line += base ? ` FAIL (< ${expected.toFixed(2)} - ${o.maxLoss} dB)` : ' FAIL (no baseline)'; }
  }
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
