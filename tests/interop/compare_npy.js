#!/usr/bin/env node
'use strict';
// Compare the outK.npy files of two run directories (e.g. LiteRT vs qcal).
const fs = require('fs');
const path = require('path');
const npy = require('./npy');

const USAGE = `usage: node compare_npy.js DIR_A DIR_B [--exact | --max-rel-l2 X] [--max-lsb N] [--min-exact-frac F]
  Compares every outK.npy present in either dir (A is the reference). Shapes and dtypes must match.
  --exact          data must be byte-identical (the default when no tolerance is given)
  --max-rel-l2 X   every output needs rel_l2 = ||a-b||_2 / ||a||_2 <= X
  --or-spread DIR_C  ... or <= F x rel_l2(DIR_A, DIR_C) when that is larger: DIR_C holds a second build
                   of the reference runtime, so the bound never goes below the runtime's own noise
  --spread-factor F  (default 2)
  --or-max-abs X   ... or max |a-b| <= X: for outputs that are ~0 everywhere (a sigmoid mask of
                   noise input is ~1e-10), where a relative error measures nothing
  --max-lsb N      integer outputs: max |a-b| (in LSB) <= N
  --min-exact-frac F  integer outputs: fraction of identical elements >= F
  (--max-lsb/--min-exact-frac alone leave float outputs unchecked, only reported)
  --pairs FILE     instead of DIR_A DIR_B: one comparison per line of FILE, DIR_A DIR_B LABEL
                   (tab-separated), in one process; prints PASS LABEL or FAIL LABEL and its lines
  Exit: 0 PASS, 1 FAIL, 2 usage error.`;

function usage(msg) {
  process.stderr.write(`compare_npy: ${msg} (see --help)\n`);
  process.exit(2);
}

const isDir = (d) => fs.existsSync(d) && fs.statSync(d).isDirectory();

function parseArgs(argv) {
  const o = { dirs: [], pairs: null, exact: false, maxRelL2: null, maxLsb: null, minExactFrac: null, spreadDir: null, spreadFactor: 2, orMaxAbs: null };
  const num = (flag, v) => {
    const x = Number(v);
    if (v === undefined || v === '' || !Number.isFinite(x) || x < 0) usage(`${flag} wants a non-negative number, got '${v === undefined ? '' : v}'`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') { console.log(USAGE); process.exit(0); }
    else if (a === '--exact') o.exact = true;
    else if (a === '--pairs') o.pairs = argv[++i];
    else if (a === '--max-rel-l2') o.maxRelL2 = num(a, argv[++i]);
    else if (a === '--or-spread') o.spreadDir = argv[++i];
    else if (a === '--or-max-abs') o.orMaxAbs = num(a, argv[++i]);
    else if (a === '--spread-factor') o.spreadFactor = num(a, argv[++i]);
    else if (a === '--max-lsb') o.maxLsb = num(a, argv[++i]);
    else if (a === '--min-exact-frac') {
      o.minExactFrac = num(a, argv[++i]);
      if (o.minExactFrac > 1) usage('--min-exact-frac wants a value in [0,1]');
    } else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else o.dirs.push(a);
  }
  if (o.pairs != null ? o.dirs.length !== 0 || !o.pairs : o.dirs.length !== 2) usage('need exactly two directories, or --pairs FILE alone');
  if (o.exact && o.maxRelL2 != null) usage('--exact and --max-rel-l2 are mutually exclusive');
  for (const d of o.dirs) if (!isDir(d)) usage(`${d}: not a directory`);
  if (!o.exact && o.maxRelL2 == null && o.maxLsb == null && o.minExactFrac == null) o.exact = true;
  return o;
}

const INT_DTYPES = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool']);

// element i of an npy as a Number (float16 decoded; 64-bit ints may round)
function getter(a) {
  const v = npy.typed(a);
  if (a.dtype === 'float16') return (i) => npy.halfToFloat(v[i]);
  if (a.dtype === 'int64' || a.dtype === 'uint64') return (i) => Number(v[i]);
  return (i) => v[i];
}

function stats(a, b) {
  const n = npy.numel(a.shape);
  const ga = getter(a);
  const gb = getter(b);
  const va = npy.typed(a);
  const vb = npy.typed(b);
  let maxAbs = 0;
  let sumD = 0;
  let sumA = 0;
  let sumB = 0;
  let mismatch = 0;
  let nanMismatch = 0;
  for (let i = 0; i < n; i++) {
    if (va[i] === vb[i]) { const x = ga(i); sumA += x * x; sumB += x * x; continue; } // exact (BigInt-safe)
    const x = ga(i);
    const y = gb(i);
    if (Number.isNaN(x) && Number.isNaN(y)) continue; // both NaN: same
    mismatch++;
    if (Number.isNaN(x) || Number.isNaN(y)) { nanMismatch++; continue; }
    const d = x === y ? 0 : Math.abs(x - y); // x===y: +0/-0, or 64-bit ints equal after rounding
    if (d > maxAbs) maxAbs = d;
    sumD += d * d;
    sumA += x * x;
    sumB += y * y;
  }
  if (nanMismatch) maxAbs = NaN;
  let relL2;
  if (nanMismatch) relL2 = NaN;
  else if (sumD === 0) relL2 = 0;
  else if (sumA === 0) relL2 = Infinity;
  else relL2 = Math.sqrt(sumD) / Math.sqrt(sumA);
  return { n, maxAbs, relL2, mismatch, nanMismatch, exactFrac: n ? (n - mismatch) / n : 1 };
}

const fmt = (x) => (Number.isInteger(x) ? String(x) : Number.isFinite(x) ? x.toPrecision(4) : String(x));

// Compares DIR_A with DIR_B under o's bounds; prints a line per output through `print`, and
// returns the failures.
function compareDirs(A, B, o, print) {
  const outs = (d) => fs.readdirSync(d).filter((f) => /^out\d+\.npy$/.test(f));
  const names = [...new Set([...outs(A), ...outs(B)])].sort((x, y) => parseInt(x.slice(3), 10) - parseInt(y.slice(3), 10));
  const failures = [];
  if (!names.length) failures.push(`no outK.npy files in ${A} or ${B}`);
  for (const f of names) {
    const label = f.replace(/\.npy$/, '');
    const load = (d) => {
      const p = path.join(d, f);
      if (!fs.existsSync(p)) { failures.push(`${label}: missing in ${d}`); return null; }
      try { return npy.read(p); } catch (e) { failures.push(`${label}: ${p}: ${e.message}`); return null; }
    };
    const a = load(A);
    const b = load(B);
    if (!a || !b) continue;
    if (a.dtype !== b.dtype || a.shape.join(',') !== b.shape.join(',')) {
      print(`${label}: ${a.dtype}${npy.fmtShape(a.shape)} vs ${b.dtype}${npy.fmtShape(b.shape)}`);
      failures.push(`${label}: dtype/shape differ: ${a.dtype}${npy.fmtShape(a.shape)} vs ${b.dtype}${npy.fmtShape(b.shape)}`);
      continue;
    }
    const s = stats(a, b);
    const isInt = INT_DTYPES.has(a.dtype);
    let line = `${label}: ${a.dtype}${npy.fmtShape(a.shape)} max_abs=${fmt(s.maxAbs)} rel_l2=${fmt(s.relL2)} mismatches=${s.mismatch}/${s.n}`;
    if (isInt) line += ` max_lsb=${fmt(s.maxAbs)} exact_frac=${s.exactFrac.toFixed(6)}`;
    if (s.nanMismatch) line += ` nan_mismatches=${s.nanMismatch}`;
    print(line);
    if (o.exact && !a.data.equals(b.data)) failures.push(`${label}: not byte-identical (${s.mismatch}/${s.n} elements differ, max_abs=${fmt(s.maxAbs)})`);
    let bound = o.maxRelL2;
    if (bound != null && o.spreadDir) {
      // The runtime's own build-to-build spread (DIR_A vs a second build) widens the bound.
      const c = load(o.spreadDir);
      if (c) {
        const spread = stats(a, c).relL2;
        print(`${label}: runtime spread rel_l2=${fmt(spread)} (vs ${o.spreadDir})`);
        bound = Math.max(bound, o.spreadFactor * spread);
      }
    }
    const tinyAbs = o.orMaxAbs != null && s.maxAbs <= o.orMaxAbs;
    if (bound != null && !(s.relL2 <= bound)) {
      if (tinyAbs) print(`${label}: rel_l2 ${fmt(s.relL2)} > ${fmt(bound)}, accepted: max_abs ${fmt(s.maxAbs)} <= ${o.orMaxAbs}`);
      else failures.push(`${label}: rel_l2 ${fmt(s.relL2)} > ${fmt(bound)}`);
    }
    if (isInt && o.maxLsb != null && !(s.maxAbs <= o.maxLsb)) failures.push(`${label}: max_lsb ${fmt(s.maxAbs)} > ${o.maxLsb}`);
    if (isInt && o.minExactFrac != null && !(s.exactFrac >= o.minExactFrac)) failures.push(`${label}: exact_frac ${s.exactFrac.toFixed(6)} < ${o.minExactFrac}`);
  }
  return failures;
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.pairs == null) {
    const failures = compareDirs(o.dirs[0], o.dirs[1], o, console.log);
    for (const f of failures) console.log(`FAIL ${f}`);
    console.log(failures.length ? 'FAIL' : 'PASS');
    process.exit(failures.length ? 1 : 0);
  }
  let lines;
  try { lines = fs.readFileSync(o.pairs, 'utf8').split('\n').filter((l) => l.trim()); } catch (e) { usage(`${o.pairs}: cannot read (${e.code || e.message})`); }
  let failed = 0;
  for (const [k, line] of lines.entries()) {
    const [A, B, label, ...rest] = line.split('\t');
    if (!label || rest.length) usage(`${o.pairs} line ${k + 1}: want DIR_A<tab>DIR_B<tab>LABEL`);
    const detail = [];
    const missing = [A, B].filter((d) => !isDir(d));
    const failures = missing.length ? missing.map((d) => `${d}: not a directory`) : compareDirs(A, B, o, (l) => detail.push(l));
    if (!failures.length) { console.log(`PASS ${label}`); continue; }
    ++failed;
    console.log(`FAIL ${label}`);
    for (const l of [...detail, ...failures.map((f) => `FAIL ${f}`)]) console.log(`    ${l}`);
  }
  console.log(`${lines.length - failed}/${lines.length} comparisons pass`);
  process.exit(failed ? 1 : 0);
}

main();
