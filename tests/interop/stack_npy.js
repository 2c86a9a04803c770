#!/usr/bin/env node
'use strict';
// Stacks .npy files along their leading dimension: node stack_npy.js OUT.npy A.npy B.npy ...
const npy = require('./npy');

const [out, ...files] = process.argv.slice(2);
if (!out || files.length === 0) { console.error('usage: stack_npy.js OUT.npy A.npy [B.npy ...]'); process.exit(2); }
const arrays = files.map((f) => { try { return npy.read(f); } catch (e) { console.error(`stack_npy: ${f}: ${e.message}`); process.exit(1); } });
const first = arrays[0];
for (const [i, a] of arrays.entries()) {
  if (a.dtype !== first.dtype || a.shape.slice(1).join() !== first.shape.slice(1).join()) {
    console.error(`stack_npy: ${files[i]}: ${a.dtype} ${npy.fmtShape(a.shape)} does not stack with ${first.dtype} ${npy.fmtShape(first.shape)}`);
    process.exit(1);
  }
}
const shape = [arrays.reduce((n, a) => n + (a.shape[0] || 1), 0), ...first.shape.slice(1)];
npy.write(out, first.dtype, shape, Buffer.concat(arrays.map((a) => a.data)));
