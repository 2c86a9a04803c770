#!/usr/bin/env node
'use strict';
// qcal interop harness: run a .tflite model in the real LiteRT runtime
// (@litertjs/core: LiteRT CompiledModel API + XNNPACK, compiled to wasm),
// headless in Node, with inputs/outputs exchanged as .npy files.
//
// Uses the package's low-level embind API (the high-level JS Tensor class
// only supports float32/int32/uint8 I/O). Signature-0 I/O is mapped to
// subgraph-0 tensor order with a minimal TFLite flatbuffer reader, so files
// are always in the same order as the interpreter's inputs()/outputs().
// Run scripts/fetch_fixtures.sh first to install the runtime.
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const Mod = require('module');
const npy = require('./npy');

const PROG = 'litert_run';
const USAGE = `usage: node litert_run.js MODEL.tflite (--input X.npy ... | --seed S | --samples DIR) --outdir DIR
                          [--threads N] [--bench N [--warmup W]] [--verbose]
  --input X.npy  one per model input, in subgraph-0 input order (dtype and element count must match)
  --samples DIR  a one-input model on every DIR/sample*.npy (as qcal preprocess writes them), in one
                 process (the runtime loads and compiles the model once): DIR/sampleK.npy's outputs go
                 to OUTDIR/sampleK/
  --seed S       generate deterministic inputs instead (mulberry32(S), inputs filled in order:
                 float U[-1,1), int8 [-128,127], uint8 [0,255], int16 [-32768,32767],
                 other ints [0,10), bool {0,1}); written to DIR/in0.npy, in1.npy, ...
  --variant V    compat (default: wasm SIMD128, no FMA) or relaxed (relaxed SIMD with FMA, a
                 second LiteRT build: the spread between the two is the runtime's own float noise)
  --range LO,HI  float range for --seed (default -1,1; e.g. 0,1 for models that expect x/255)
  --outdir DIR   writes DIR/out0.npy ... (subgraph-0 output order) + DIR/manifest.json
                 (optional with --bench)
  --threads N    XNNPACK thread count passed to LiteRT (default 1; the wasm build used here,
                 litert_wasm_compat_internal, has no pthreads, so it runs single-threaded anyway)
  --bench N      also time N runs after W warm-up runs (default 3); prints
                 {"median_ms":..,"min_ms":..,...} on stdout
  --verbose      pass LiteRT's own log lines through to stderr
  --check        (no MODEL) only say whether the LiteRT runtime is installed: prints its version,
                 exit 0, or the one-line error, exit 1 (how qcal compare finds out)
  --jobs FILE    (no MODEL) many models in one process, the runtime loaded once: each line of FILE
                 is MODEL SEED OUTDIR (tab-separated), run as MODEL --seed SEED --outdir OUTDIR; a
                 model that fails gets its one-line error and the others still run (exit 1 at the end)
LiteRT is loaded from $QCAL_NODE_MODULES, else \${QCAL_CACHE:-$HOME/.cache/qcal}/litert/node_modules.
Exit status: 0 ok; 1 error (one line on stderr: "litert_run: FILE: problem"); 2 bad command line.`;

class Fail extends Error {
  constructor(file, msg) { super(msg); this.file = file; }
}
const fail = (file, msg) => { throw new Fail(file, msg); };
// The one line an error becomes on stderr: "litert_run: FILE: problem".
const errorLine = (file, e) => `${PROG}: ${file}: ${((e && e.message) || String(e)).replace(/\s*\n\s*/g, '; ')}\n`;

// ---------------------------------------------------------------- CLI
function parseArgs(argv) {
  const o = { inputs: [], samples: null, seed: null, range: [-1, 1], variant: 'compat', outdir: null, threads: 1, bench: 0, warmup: 3, verbose: false, model: null };
  const usage = (msg) => { const e = new Error(msg); e.usage = true; throw e; };
  const int = (flag, v, min) => {
    if (!/^-?\d+$/.test(v) || parseInt(v, 10) < min) usage(`${flag} wants an integer >= ${min}, got '${v}'`);
    return parseInt(v, 10);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
    if (a === '-h' || a === '--help') { console.log(USAGE); process.exit(0); }
    else if (a === '--input') o.inputs.push(val());
    else if (a === '--samples') o.samples = val();
    else if (a === '--seed') o.seed = int(a, val(), 0) >>> 0;
    else if (a === '--outdir') o.outdir = val();
    else if (a === '--variant') {
      o.variant = val();
      if (!['compat', 'relaxed'].includes(o.variant)) usage(`--variant wants compat or relaxed, got '${o.variant}'`);
    }
    else if (a === '--range') {
      const r = val().split(',').map(Number);
      if (r.length !== 2 || !r.every(Number.isFinite) || !(r[0] < r[1])) usage(`--range wants LO,HI with LO < HI, got '${argv[i]}'`);
      o.range = r;
    }
    else if (a === '--threads') o.threads = int(a, val(), 1);
    else if (a === '--bench') o.bench = int(a, val(), 1);
    else if (a === '--warmup') o.warmup = int(a, val(), 0);
    else if (a === '--verbose') o.verbose = true;
    else if (a === '--check') o.check = true;
    else if (a === '--jobs') o.jobs = val();
    else if (a.startsWith('-') && a !== '-') usage(`unknown option ${a}`);
    else if (!o.model) o.model = a;
    else usage(`unexpected argument ${a}`);
  }
  if (o.check) {
    if (o.model || argv.length !== 1) usage('--check takes no model or other option');
    return o;
  }
  if (o.jobs != null) {
    if (o.model || o.seed != null || o.inputs.length || o.samples != null || o.outdir || o.bench) usage('--jobs takes no model, inputs, --outdir or --bench');
    return o;
  }
  if (!o.model) usage('no MODEL.tflite given');
  if ([o.seed != null, o.inputs.length > 0, o.samples != null].filter(Boolean).length > 1) usage('--seed, --input and --samples are mutually exclusive');
  if (o.samples != null && (!o.outdir || o.bench)) usage('--samples needs --outdir (and no --bench)');
  if (!o.outdir && !o.bench) usage('--outdir DIR is required');
  return o;
}

// ---------------------------------------------------------------- flatbuffer
// Just enough of the TFLite (TFL3) schema: subgraph tensors/inputs/outputs and
// signature_defs. Field numbers from tflite schema.fbs.
const TFL_TYPES = ['float32', 'float16', 'int32', 'uint8', 'int64', 'string', 'bool', 'int16', 'complex64',
  'int8', 'float64', 'complex128', 'uint64', 'resource', 'variant', 'uint32', 'uint16', 'int4', 'bfloat16',
  'int2', 'uint4', 'float8_e4m3fn', 'float8_e5m2'];

function readTflite(buf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const chk = (pos, n) => { if (pos < 0 || pos + n > buf.length) throw new Error(`truncated or corrupt flatbuffer (offset ${pos} out of range)`); return pos; };
  const u32 = (pos) => dv.getUint32(chk(pos, 4), true);
  // field position inside table t (0 if absent)
  const field = (t, id) => {
    const vt = t - dv.getInt32(chk(t, 4), true);
    const vtLen = dv.getUint16(chk(vt, 2), true);
    const at = 4 + 2 * id;
    if (at + 2 > vtLen) return 0;
    const off = dv.getUint16(chk(vt + at, 2), true);
    return off ? t + off : 0;
  };
  const deref = (pos) => pos + u32(pos);
  const table = (t, id) => { const p = field(t, id); return p ? deref(p) : 0; };
  const vec = (t, id) => { const p = field(t, id); if (!p) return null; const v = deref(p); return { n: u32(v), at: v + 4 }; };
  const tables = (t, id) => { const v = vec(t, id); const r = []; if (v) for (let i = 0; i < v.n; i++) r.push(deref(v.at + 4 * i)); return r; };
  const ints = (t, id) => { const v = vec(t, id); if (!v) return null; const r = []; for (let i = 0; i < v.n; i++) r.push(dv.getInt32(chk(v.at + 4 * i, 4), true)); return r; };
  const str = (t, id) => { const p = table(t, id); return p ? buf.toString('utf8', chk(p + 4, u32(p)), p + 4 + u32(p)) : ''; };
  const scalar = (t, id, get, def) => { const p = field(t, id); return p ? get(p) : def; };

  if (buf.length < 8 || buf.toString('latin1', 4, 8) !== 'TFL3') throw new Error('not a TFLite flatbuffer (no TFL3 identifier)');
  const root = u32(0);
  const subgraphs = tables(root, 2);
  if (!subgraphs.length) throw new Error('model has no subgraphs');
  const readSubgraph = (sg) => ({
    tensors: tables(sg, 0).map((t, index) => {
      const type = scalar(t, 1, (p) => dv.getInt8(chk(p, 1)), 0);
      return { index, name: str(t, 3), type: TFL_TYPES[type] || `tfl_type_${type}`, shape: ints(t, 0) || [], shape_signature: ints(t, 7) };
    }),
    inputs: ints(sg, 1) || [],
    outputs: ints(sg, 2) || [],
  });
  const tmap = (t, id) => tables(t, id).map((m) => ({ name: str(m, 0), tensor_index: scalar(m, 1, (p) => u32(p), 0) }));
  const signatures = tables(root, 7).map((s) => ({
    key: str(s, 2), inputs: tmap(s, 0), outputs: tmap(s, 1), subgraph_index: scalar(s, 4, (p) => u32(p), 0),
  }));
  return { numSubgraphs: subgraphs.length, subgraph0: readSubgraph(subgraphs[0]), signatures };
}

// ---------------------------------------------------------------- LiteRT
// LiteRtElementType (TfLiteType numbering) -> dtype name
const LRT_TYPES = { 1: 'float32', 2: 'int32', 3: 'uint8', 4: 'int64', 5: 'string', 6: 'bool', 7: 'int16', 8: 'complex64',
  9: 'int8', 10: 'float16', 11: 'float64', 12: 'complex128', 13: 'uint64', 14: 'resource', 15: 'variant',
  16: 'uint32', 17: 'uint16', 18: 'int4', 19: 'bfloat16' };

function nodeModulesDir() {
  if (process.env.QCAL_NODE_MODULES) return process.env.QCAL_NODE_MODULES;
  const cache = process.env.QCAL_CACHE || path.join(require('os').homedir(), '.cache', 'qcal');
  return path.join(cache, 'litert', 'node_modules');
}

// The wasm loader is CommonJS inside a "type":"module" package: compile it by hand.
function loadCjs(file) {
  const m = new Mod(file, module);
  m.filename = file;
  m.paths = [];
  m._compile(fs.readFileSync(file, 'utf8'), file);
  return m.exports;
}

function vecToArray(v) { const a = []; for (let i = 0; i < v.size(); i++) a.push(v.get(i)); v.delete(); return a; }

// {dtype, elem, shape} of a LiteRtRankedTensorType (deletes it)
function tensorType(tt) {
  const layout = tt.layout();
  const shape = vecToArray(layout.dimensions());
  layout.delete();
  const elem = tt.elementType().value;
  tt.delete();
  return { dtype: LRT_TYPES[elem] || `litert_type_${elem}`, elem, shape };
}

function makeTensorType(W, elem, shape) {
  const v = new W.VectorInt32();
  for (const d of shape) v.push_back(d);
  const layout = W.LiteRtLayout.create(v);
  v.delete();
  const tt = W.LiteRtRankedTensorType.create({ value: elem }, layout);
  layout.delete();
  return tt;
}

// ---------------------------------------------------------------- inputs
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomData(rand, dtype, n, [lo, hi] = [-1, 1]) {
  const T = npy.DTYPES[dtype].Typed;
  const a = new T(n);
  const fill = (f) => { for (let i = 0; i < n; i++) a[i] = f(); };
  switch (dtype) {
    case 'float32': case 'float64': fill(() => lo + rand() * (hi - lo)); break;
    case 'float16': fill(() => npy.floatToHalf(lo + rand() * (hi - lo))); break;
    case 'int8': fill(() => Math.floor(rand() * 256) - 128); break;
    case 'uint8': fill(() => Math.floor(rand() * 256)); break;
    case 'int16': fill(() => Math.floor(rand() * 65536) - 32768); break;
    case 'bool': fill(() => (rand() < 0.5 ? 0 : 1)); break;
    case 'int64': case 'uint64': fill(() => BigInt(Math.floor(rand() * 10))); break;
    default: fill(() => Math.floor(rand() * 10)); // int32, uint16, uint32
  }
  return new Uint8Array(a.buffer);
}

// The runtime's wasm loader (compat or relaxed build), failing in one line when it is missing.
function runtimeLoader(variant) {
  const wasmDir = path.join(nodeModulesDir(), '@litertjs', 'core', 'wasm');
  const loader = path.join(wasmDir, variant === 'relaxed' ? 'litert_wasm_internal.js' : 'litert_wasm_compat_internal.js');
  if (!fs.existsSync(loader)) fail(loader, 'LiteRT runtime not found; run scripts/fetch_fixtures.sh or set QCAL_NODE_MODULES');
  let version = '?';
  try { version = JSON.parse(fs.readFileSync(path.join(wasmDir, '..', 'package.json'), 'utf8')).version; } catch (e) { /* informative only */ }
  return { loader, version, wasmDir };
}

// ---------------------------------------------------------------- main
// The runtime, loaded once per process: its wasm module, one environment, and the log lines
// of the model being run (reset per model).
async function openRuntime(o) {
  const { loader, version, wasmDir } = runtimeLoader(o.variant);
  const rt = { loader, version, logTail: [], errors: [] };
  // LiteRT logs through printErr; keep its non-INFO lines to explain failures.
  const log = (s) => {
    // Some failures (e.g. "Failed to allocate tensors") are only logged while the calls
    // return normally with stale buffers: any ERROR line fails the run.
    if (/^ERROR[:\s]|Failed to|failed to/.test(s)) rt.errors.push(s.trim());
    if (o.verbose) { process.stderr.write(s + '\n'); return; }
    if (/^(INFO|WARNING|VERBOSE|DEBUG)[:\s]/.test(s)) return;
    rt.logTail.push(s); if (rt.logTail.length > 20) rt.logTail.shift();
  };
  rt.W = await loadCjs(loader)({ locateFile: (f) => path.join(wasmDir, f), print: log, printErr: log });
  if (rt.W.setupLogging) rt.W.setupLogging();
  try { rt.env = await rt.W.LiteRtEnvironment.create(null); } catch (e) { fail(loader, `creating LiteRT environment: ${(e && e.message) || e}`); }
  return rt;
}

async function main(o) {
  if (o.check) {
    console.log(`@litertjs/core ${runtimeLoader(o.variant).version}`);
    return;
  }
  const rt = await openRuntime(o);
  if (o.jobs == null) return runModel(rt, o);
  let lines;
  try { lines = fs.readFileSync(o.jobs, 'utf8').split('\n').filter((l) => l.trim()); } catch (e) { fail(o.jobs, `cannot read (${e.code || e.message})`); }
  let failed = 0;
  for (const [k, line] of lines.entries()) {
    const f = line.split('\t');
    if (f.length !== 3 || !/^\d+$/.test(f[1])) fail(o.jobs, `line ${k + 1}: want MODEL<tab>SEED<tab>OUTDIR, got '${line}'`);
    try {
      await runModel(rt, { ...o, model: f[0], seed: parseInt(f[1], 10) >>> 0, outdir: f[2] });
    } catch (e) {
      if (!(e instanceof Fail)) throw e;
      process.stderr.write(errorLine(e.file, e));
      ++failed;
    }
  }
  if (failed) fail(o.jobs, `${failed} of ${lines.length} models failed`);
}

// One model (with --input/--seed/--samples, and --bench) on the open runtime.
async function runModel(rt, o) {
  const modelPath = o.model;
  let bytes;
  try { bytes = fs.readFileSync(modelPath); } catch (e) { fail(modelPath, `cannot read model (${e.code || e.message})`); }
  let fb;
  try { fb = readTflite(bytes); } catch (e) { fail(modelPath, e.message); }
  const { W, env, loader, version } = rt;
  const logTail = rt.logTail, errors = rt.errors;
  logTail.length = 0;
  errors.length = 0;
  // Wrap LiteRT calls: errors become one line naming the model.
  const lrt = async (what, f) => {
    try { return await f(); } catch (e) {
      if (e instanceof Fail) throw e;
      let msg = (e && e.message) || String(e);
      const extra = logTail.filter((l) => l && !msg.includes(l.trim())).pop();
      if (extra) msg += ` (${extra.trim()})`;
      fail(modelPath, `${what}: ${msg}`.replace(/\s*\n\s*/g, '; '));
    }
  };

  const mptr = W._malloc(bytes.length);
  W.HEAPU8.set(bytes, mptr);
  const model = await lrt('loading model', () => W.loadModel(env, mptr, bytes.length));
  const SIG = 0;
  const sig = model.getSignature(SIG);
  const sigKey = sig.key();
  const inNames = vecToArray(sig.inputNames());
  const outNames = vecToArray(sig.outputNames());
  sig.delete();

  // Map signature I/O (by name) to subgraph-0 tensor indices.
  const sg = fb.subgraph0;
  const fbSig = fb.signatures.find((s) => s.key === sigKey);
  if (fbSig && fbSig.subgraph_index !== 0) fail(modelPath, `signature '${sigKey}' runs subgraph ${fbSig.subgraph_index}; only subgraph 0 is supported`);
  const mapIO = (names, sgList, sigList, kind) => {
    const byName = (n) => {
      if (sigList) { const m = sigList.find((x) => x.name === n); return m ? m.tensor_index : null; }
      const ti = sgList.find((t) => sg.tensors[t] && sg.tensors[t].name === n);
      return ti === undefined ? null : ti;
    };
    const idx = names.map((n, k) => { const ti = byName(n); return ti != null ? ti : (sigList ? null : sgList[k]); });
    if (names.length !== sgList.length || idx.includes(null) || sgList.some((ti) => !idx.includes(ti))) {
      fail(modelPath, `cannot map signature '${sigKey}' ${kind}s [${names}] to subgraph-0 ${kind}s [${sgList}]`);
    }
    return sgList.map((ti) => ({ k: idx.indexOf(ti), tensor_index: ti })); // in subgraph order
  };
  const inputs = mapIO(inNames, sg.inputs, fbSig && fbSig.inputs, 'input');
  const outputs = mapIO(outNames, sg.outputs, fbSig && fbSig.outputs, 'output');
  for (const [list, names, getType] of [[inputs, inNames, 'getInputTensorType'], [outputs, outNames, 'getOutputTensorType']]) {
    for (const x of list) {
      const t = sg.tensors[x.tensor_index];
      x.name = t.name;
      x.signature_name = names[x.k];
      Object.assign(x, tensorType(model[getType](SIG, x.k)));
      if (t.type !== x.dtype) fail(modelPath, `tensor ${x.tensor_index} (${t.name}) is ${t.type} in the flatbuffer but ${x.dtype} in LiteRT`);
      if (x.shape.some((d) => d < 0)) x.dynamic = true;
    }
  }
  for (const x of inputs) {
    if (!npy.DTYPES[x.dtype]) fail(modelPath, `input ${x.name} has unsupported dtype ${x.dtype}`);
    if (x.dynamic) x.shape = sg.tensors[x.tensor_index].shape; // concrete default shape
  }
  for (const x of outputs) if (!npy.DTYPES[x.dtype]) fail(modelPath, `output ${x.name} has unsupported dtype ${x.dtype}`);

  // Input data, in subgraph order.
  if (o.seed == null && o.inputs.length === 0 && o.samples == null && inputs.length > 0) {
    const e = new Error(`model has ${inputs.length} input(s): give --input X.npy per input, or --seed S`); e.usage = true; throw e;
  }
  const compiled = await lrt('compiling model', () => W.compileModel(env, model,
    { accelerator: 'wasm', cpuOptions: { numThreads: o.threads }, gpuOptions: {}, webNNOptions: {} }));

  // One inference: inputs from files (or the seed), outputs and a manifest into outdir.
  const runOnce = async (inputFiles, outdir) => {
    if (inputFiles.length && inputFiles.length !== inputs.length) {
      fail(modelPath, `model has ${inputs.length} input(s) [${inputs.map((x) => `${x.name} ${x.dtype}[${x.shape}]`).join(', ')}], got ${inputFiles.length} --input`);
    }
    if (outdir) {
      try { fs.mkdirSync(outdir, { recursive: true }); } catch (e) { fail(outdir, `cannot create output dir (${e.code || e.message})`); }
    }
    const rand = o.seed != null ? mulberry32(o.seed) : null;
    inputs.forEach((x, p) => {
      const n = npy.numel(x.shape);
      if (rand) {
        x.data = randomData(rand, x.dtype, n, o.range);
        x.file = `in${p}.npy`;
        if (outdir) npy.write(path.join(outdir, x.file), x.dtype, x.shape, x.data);
        return;
      }
      const file = inputFiles[p];
      let a;
      try { a = npy.read(file); } catch (e) { fail(file, e.code ? `cannot read (${e.code})` : e.message); }
      if (a.dtype !== x.dtype) fail(file, `dtype ${a.dtype} ('${a.descr}'), but model input ${p} (${x.name}) is ${x.dtype} ('${npy.DTYPES[x.dtype].descr}')`);
      if (npy.numel(a.shape) !== n) fail(file, `shape ${npy.fmtShape(a.shape)} has ${npy.numel(a.shape)} elements, but model input ${p} (${x.name}) is [${x.shape}] = ${n} elements`);
      x.data = a.data;
      x.file = path.resolve(file);
    });

    // Input buffers in signature order (what run() wants).
    const inBufs = new Array(inputs.length);
    await lrt('creating input buffers', () => {
      for (const x of inputs) {
        const tt = x.dynamic ? makeTensorType(W, x.elem, x.shape) : model.getInputTensorType(SIG, x.k);
        const nbytes = tt.bytes();
        if (nbytes !== x.data.byteLength) { tt.delete(); fail(modelPath, `input ${x.name}: LiteRT wants ${nbytes} bytes, have ${x.data.byteLength}`); }
        const tb = W.LiteRtTensorBuffer.createManaged(env, W.LiteRtTensorBufferType.HOST_MEMORY, tt, nbytes);
        tt.delete();
        const p = tb.lock(W.LiteRtTensorBufferLockMode.WRITE);
        W.HEAPU8.set(x.data, p);
        tb.unlock();
        inBufs[x.k] = tb;
      }
    });

    const res = await lrt('running model', () => compiled.run(SIG, inBufs));
    if (errors.length) fail(modelPath, `LiteRT reported an error: ${errors[0]}`);
    for (const x of outputs) {
      const tb = res[x.k];
      const p = tb.lock(W.LiteRtTensorBufferLockMode.READ);
      x.data = W.HEAPU8.slice(p, p + tb.packedSize());
      tb.unlock();
      x.shape = tensorType(tb.tensorType()).shape; // concrete shape after the run
      if (npy.numel(x.shape) * npy.DTYPES[x.dtype].size !== x.data.byteLength) {
        fail(modelPath, `output ${x.name}: ${x.data.byteLength} bytes do not fit ${x.dtype}[${x.shape}]`);
      }
    }
    res.forEach((tb) => tb.delete());

    if (outdir) {
      outputs.forEach((x, p) => { x.file = `out${p}.npy`; npy.write(path.join(outdir, x.file), x.dtype, x.shape, x.data); });
      // drop stale files from an earlier run with more outputs / seeded inputs
      for (const f of fs.readdirSync(outdir)) {
        const m = /^(out|in)(\d+)\.npy$/.exec(f);
        if (!m) continue;
        const stale = m[1] === 'out' ? +m[2] >= outputs.length : rand && +m[2] >= inputs.length;
        if (stale) fs.unlinkSync(path.join(outdir, f));
      }
      const desc = (x) => {
        const d = { file: x.file, name: x.name, dtype: x.dtype, shape: x.shape, tensor_index: x.tensor_index };
        if (x.signature_name !== x.name) d.signature_name = x.signature_name;
        return d;
      };
      const manifest = {
        runtime: `@litertjs/core@${version}`, wasm: path.basename(loader, '.js'), accelerator: 'wasm (XNNPACK)', threads: o.threads,
        model: path.resolve(modelPath), model_sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
        signature: sigKey, seed: o.seed,
        inputs: inputs.map(desc), outputs: outputs.map(desc),
      };
      const json = JSON.stringify(manifest, null, 1).replace(/\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]/g, (m, l) => `[${l.split(/,\s*/).join(', ')}]`);
      fs.writeFileSync(path.join(outdir, 'manifest.json'), json + '\n');
    }
    return inBufs;
  };

  if (o.samples != null) {
    if (inputs.length !== 1) fail(modelPath, `--samples runs one-input models; this one has ${inputs.length} inputs`);
    let files;
    try { files = fs.readdirSync(o.samples).filter((f) => /^sample.*\.npy$/.test(f)).sort(); } catch (e) { fail(o.samples, `cannot list (${e.code || e.message})`); }
    if (!files.length) fail(o.samples, 'no sample*.npy files');
    for (const f of files) {
      const bufs = await runOnce([path.join(o.samples, f)], path.join(o.outdir, path.basename(f, '.npy')));
      bufs.forEach((tb) => tb.delete());
    }
    return;
  }
  const inBufs = await runOnce(o.inputs, o.outdir);

  if (o.bench) {
    const once = async () => { const r = await compiled.run(SIG, inBufs); r.forEach((tb) => tb.delete()); };
    await lrt('benchmark run', async () => {
      for (let i = 0; i < o.warmup; i++) await once();
      const t = [];
      for (let i = 0; i < o.bench; i++) {
        const t0 = process.hrtime.bigint();
        await once();
        t.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      t.sort((a, b) => a - b);
      const mid = t.length >> 1;
      const median = t.length % 2 ? t[mid] : (t[mid - 1] + t[mid]) / 2;
      const r3 = (v) => Math.round(v * 1000) / 1000;
      console.log(JSON.stringify({ median_ms: r3(median), min_ms: r3(t[0]), runs: o.bench, warmup: o.warmup, threads: o.threads }));
    });
  }
  // (wasm heap is discarded with the process; no explicit frees needed)
}

let opts;
try { opts = parseArgs(process.argv.slice(2)); } catch (e) {
  process.stderr.write(`${PROG}: ${e.message} (see --help)\n`);
  process.exit(2);
}
// The relaxed-SIMD build needs the flag on Node 20: re-run this script with it.
const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';
if (opts.variant === 'relaxed' && !process.execArgv.includes(RELAXED_FLAG)) {
  const r = require('child_process').spawnSync(process.execPath, [RELAXED_FLAG, ...process.execArgv, __filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status == null ? 1 : r.status);
}
main(opts).then(() => process.exit(0), (e) => {
  if (e && e.usage) { process.stderr.write(`${PROG}: ${e.message} (see --help)\n`); process.exit(2); }
  process.stderr.write(errorLine(e instanceof Fail ? e.file : opts.model, e));
  process.exit(1);
});
