'use strict';
// Minimal .npy reader/writer (NumPy format v1.0/2.0/3.0; little-endian, C order).
//
//   const npy = require('./npy');
//   const a = npy.read('x.npy');      // {dtype:'float32', descr:'<f4', shape:[1,3], data:Buffer}
//   npy.typed(a)                      // Float32Array view (copy-free; data is aligned)
//   npy.write('y.npy', 'int8', [2, 2], bytes)
//
// dtype names follow TFLite/LiteRT spelling: float32 float16 float64 int8 uint8
// int16 uint16 int32 uint32 int64 uint64 bool.
const fs = require('fs');

const DTYPES = {
  float32: { descr: '<f4', size: 4, Typed: Float32Array },
  float16: { descr: '<f2', size: 2, Typed: Uint16Array }, // raw half bits
  float64: { descr: '<f8', size: 8, Typed: Float64Array },
  int8: { descr: '|i1', size: 1, Typed: Int8Array },
  uint8: { descr: '|u1', size: 1, Typed: Uint8Array },
  int16: { descr: '<i2', size: 2, Typed: Int16Array },
  uint16: { descr: '<u2', size: 2, Typed: Uint16Array },
  int32: { descr: '<i4', size: 4, Typed: Int32Array },
  uint32: { descr: '<u4', size: 4, Typed: Uint32Array },
  int64: { descr: '<i8', size: 8, Typed: BigInt64Array },
  uint64: { descr: '<u8', size: 8, Typed: BigUint64Array },
  bool: { descr: '|b1', size: 1, Typed: Uint8Array },
};

// descr (any byte-order mark for 1-byte types; '<' or '=' otherwise) -> dtype name
function dtypeFromDescr(descr) {
  const m = /^([<>|=])([a-z])(\d+)$/.exec(descr);
  if (!m) return null;
  const [, order, kind, n] = m;
  const hit = Object.keys(DTYPES).find((k) => DTYPES[k].descr.slice(1) === kind + n);
  if (!hit) return null;
  if (order === '>' && DTYPES[hit].size > 1) return null; // big-endian: unsupported
  return hit;
}

const numel = (shape) => shape.reduce((a, b) => a * b, 1);

// Returns {dtype, descr, shape, data}; data is a fresh (8-byte aligned) Buffer.
// Throws Error(problem) without the file name; callers prefix it.
function parse(buf) {
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error('not a .npy file (bad magic)');
  const major = buf[6];
  let hlen;
  let hstart;
  if (major === 1) { hlen = buf.readUInt16LE(8); hstart = 10; }
  else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new Error('truncated .npy header');
    hlen = buf.readUInt32LE(8); hstart = 12;
  } else throw new Error(`unsupported .npy version ${major}.${buf[7]}`);
  if (hstart + hlen > buf.length) throw new Error('truncated .npy header');
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', hstart, hstart + hlen);
  const descrM = /['"]descr['"]\s*:\s*['"]([^'"]+)['"]/.exec(header);
  const fortM = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  const shapeM = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descrM || !fortM || !shapeM) throw new Error(`malformed .npy header: ${header.trim()}`);
  const descr = descrM[1];
  const dtype = dtypeFromDescr(descr);
  if (!dtype) throw new Error(`unsupported dtype '${descr}' (want one of ${Object.values(DTYPES).map((d) => d.descr).join(' ')})`);
  const shape = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    if (!/^\d+L?$/.test(s)) throw new Error(`malformed shape in .npy header: (${shapeM[1]})`);
    return parseInt(s, 10);
  });
  if (fortM[1] === 'True' && shape.filter((d) => d > 1).length > 1) throw new Error('Fortran-order arrays are not supported');
  const nbytes = numel(shape) * DTYPES[dtype].size;
  const off = hstart + hlen;
  if (buf.length - off < nbytes) throw new Error(`truncated data: ${buf.length - off} bytes, header says ${nbytes} (${descr} ${fmtShape(shape)})`);
  if (buf.length - off > nbytes) throw new Error(`${buf.length - off - nbytes} trailing bytes after the data`);
  const data = Buffer.alloc(nbytes); // Buffer.alloc is never pool-backed -> offset 0, aligned
  buf.copy(data, 0, off, off + nbytes);
  return { dtype, descr: DTYPES[dtype].descr, shape, data };
}

function read(file) { return parse(fs.readFileSync(file)); }

// Typed-array view on the data (float16: raw Uint16 bits; bool: Uint8).
function typed(a) {
  const T = DTYPES[a.dtype].Typed;
  return new T(a.data.buffer, a.data.byteOffset, a.data.byteLength / T.BYTES_PER_ELEMENT);
}

function fmtShape(shape) { return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`; }

// Serializes to a v1.0 .npy (v2.0 if the header would not fit), as numpy.save does.
function encode(dtype, shape, bytes) {
  const d = DTYPES[dtype];
  if (!d) throw new Error(`unsupported dtype ${dtype}`);
  const nbytes = numel(shape) * d.size;
  if (bytes.byteLength !== nbytes) throw new Error(`${dtype} ${fmtShape(shape)} needs ${nbytes} bytes, got ${bytes.byteLength}`);
  let dict = `{'descr': '${d.descr}', 'fortran_order': False, 'shape': ${fmtShape(shape)}, }`;
  let pre = 10;
  let major = 1;
  if (dict.length + 11 > 0xffff) { pre = 12; major = 2; }
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  dict = dict + ' '.repeat(total - pre - dict.length - 1) + '\n';
  const head = Buffer.alloc(pre);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = major; head[7] = 0;
  if (major === 1) head.writeUInt16LE(dict.length, 8); else head.writeUInt32LE(dict.length, 8);
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Buffer.concat([head, Buffer.from(dict, 'latin1'), data]);
}

function write(file, dtype, shape, bytes) { fs.writeFileSync(file, encode(dtype, shape, bytes)); }

// IEEE half bits -> number
function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

// number -> IEEE half bits (round to nearest even)
function floatToHalf(x) {
  const f32 = new Float32Array([x]);
  const u = new Uint32Array(f32.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) { // subnormal half (or zero)
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++; // may carry into exp: still correct
  return sign | h;
}

module.exports = { DTYPES, dtypeFromDescr, numel, parse, read, typed, encode, write, fmtShape, halfToFloat, floatToHalf };
