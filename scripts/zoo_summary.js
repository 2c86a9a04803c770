#!/usr/bin/env node
'use strict';
// Markdown summary of a scripts/zoo.sh run: node zoo_summary.js SUMMARY.tsv MODELS.tsv
// One row per model: op count, ops kept float (why), min output SQNR (dB, against the float
// model, both in LiteRT) per scheme, whether qcal's integer executor matched LiteRT byte for
// byte, and every failure with its class (see scripts/zoo.sh).
const fs = require('fs');
const rd = (f) => fs.readFileSync(f, 'utf8').split('\n').slice(1).filter((l) => l.length).map((l) => l.split('\t'));
const [tsv, modelsTsv] = process.argv.slice(2);
if (!tsv || !modelsTsv) { console.error('usage: zoo_summary.js SUMMARY.tsv MODELS.tsv'); process.exit(2); }
const rows = rd(tsv), models = rd(modelsTsv);
const schemes = ['int8_minmax', 'int8_percentile', 'int8_kl', 'int8_mse', 'int8_io_int8', 'fp16', 'dynamic'];
const out = [
  '| model | ops | kept float (why) | ' + schemes.map((s) => s.replace(/^int8_/, '')).join(' | ') + ' | failures |',
  '|' + ' --- |'.repeat(schemes.length + 4),
];
const cell = (r) => {
  if (!r) return '-';
  if (r[2] !== '0') return `exit ${r[2]}`;
  if (r[3] === 'n/a') return 'written, not run';
  if (r[3] !== 'ok') return 'LiteRT refuses';
  let c = r[4] !== '-' ? r[4] : (r[5] && r[5] !== '-' && r[5].split(',').every((x) => x === 'inf') ? 'identical' : '');
  if (r[6] && r[6] !== '-') c += (c ? ', ' : '') + (r[6] === 'exact' ? 'bit-exact' : `executor ${r[6]}`);
  return c || 'runs';
};
for (const m of models) {
  const mine = rows.filter((r) => r[0] === m[0]);
  const fails = mine.filter((r) => !['ok', '-', 'n/a'].includes(r[7])).map((r) => `${r[1]}: ${r[7]}`).join('; ') || '-';
  const deq = /DEQUANTIZE×(\d+)/.exec(m[3] || '');
  const nops = deq ? `${Number(m[2]) - Number(deq[1])} (+${deq[1]} fp16 DEQUANTIZE)` : m[2];
  out.push(`| ${m[0]} | ${nops} | ${m[7] || 'none'} | ${schemes.map((s) => cell(mine.find((x) => x[1] === s))).join(' | ')} | ${fails} |`);
}
for (const r of rows.filter((x) => x[7] === 'skip')) out.push(`| ${r[0]} | - | skipped: ${r[8]} |` + ' - |'.repeat(schemes.length + 1));
console.log(out.join('\n'));
