#!/usr/bin/env node
// Regenerates expected.tsv: reference token ids for every string of corpus.py,
// computed by the Hugging Face `tokenizers` library (Rust, through the
// @anush008/tokenizers Node bindings) from the real SmolLM2 tokenizer.json.
//
//   node tests/tokenizer/gen_expected.js [--tokenizer PATH] [--out PATH] [--check]
//
// --check compares against the existing expected.tsv instead of writing it.
// The bindings are looked up with require() (NODE_PATH works), then under
// $TOKENIZERS_NODE_PREFIX/node_modules (default /work/scratch/npm).
// tokenizer.json defaults to <repo>/../shared/tokenizer/tokenizer.json.
//
// Output: one line per string, "<utf-8 hex, lowercase>\t<ids separated by
// single spaces>"; the ids field is empty for the empty string.

'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { execFileSync } = require('child_process');

const here = __dirname;
const args = process.argv.slice(2);
function opt(name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
}
const tokPath = path.resolve(opt('--tokenizer',
  path.join(here, '..', '..', '..', 'shared', 'tokenizer', 'tokenizer.json')));
const outPath = path.resolve(opt('--out', path.join(here, 'expected.tsv')));
const checkOnly = args.includes('--check');

function loadBindings() {
  try {
    return require('@anush008/tokenizers');
  } catch (e) {
    const prefix = process.env.TOKENIZERS_NODE_PREFIX || '/work/scratch/npm';
    return require(path.join(prefix, 'node_modules', '@anush008', 'tokenizers'));
  }
}

async function main() {
  const { Tokenizer } = loadBindings();
  const bindingsPkg = require.resolve('@anush008/tokenizers/package.json', {
    paths: [process.env.TOKENIZERS_NODE_PREFIX || '/work/scratch/npm', here],
  });
  const bindingsVersion = JSON.parse(fs.readFileSync(bindingsPkg, 'utf8')).version;
  const cargo = fs.readFileSync(path.join(path.dirname(bindingsPkg), 'Cargo.toml'), 'utf8');
  const rustVersion = (cargo.match(/^tokenizers\s*=\s*"([^"]+)"/m) || [])[1] || '?';
  const sha = crypto.createHash('sha256').update(fs.readFileSync(tokPath)).digest('hex');
  const tok = Tokenizer.fromFile(tokPath);

  const py = process.env.PYTHON || 'python3';
  const raw = execFileSync(py, [path.join(here, 'corpus.py')], {
    encoding: 'utf8', maxBuffer: 1 << 28,
  });
  const items = raw.split('\n').filter((l) => l.length).map((l) => JSON.parse(l));

  // Byte values whose byte-level symbol has no vocab entry: the BPE model
  // (no unk token, no byte fallback) drops them silently, so the decode of
  // such strings is the lossy UTF-8 decode of the bytes without them.
  const byteChar = [];
  {
    const keep = [];
    for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
    for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
    for (let b = 0xae; b <= 0xff; b++) keep.push(b);
    let n = 0;
    for (let b = 0; b < 256; b++) {
      byteChar[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + n++);
    }
  }
  const dropped = new Set();
  for (let b = 0; b < 256; b++) if (tok.tokenToId(byteChar[b]) == null) dropped.add(b);

  const counts = new Map();
  let nLossy = 0;
  const lines = [];
  let roundTripFail = 0;
  let nTokens = 0;
  for (const { cat, hex } of items) {
    const text = Buffer.from(hex, 'hex').toString('utf8');
    if (Buffer.from(text, 'utf8').toString('hex') !== hex) {
      throw new Error(`corpus string is not valid UTF-8: ${hex}`);
    }
    const enc = await tok.encode(text, null, { addSpecialTokens: true });
    const ids = enc.getIds();
    nTokens += ids.length;
    const back = await tok.decode(ids, false);
    const bytes = Buffer.from(hex, 'hex');
    let want = text;
    if (bytes.some((b) => dropped.has(b))) {
      nLossy++;
      want = Buffer.from(bytes.filter((b) => !dropped.has(b))).toString('utf8');
    }
    if (back !== want) {
      roundTripFail++;
      console.error(`decode round trip differs [${cat}]: ${JSON.stringify(text)} -> ${JSON.stringify(back)}`);
    }
    counts.set(cat, (counts.get(cat) || 0) + 1);
    lines.push(hex + '\t' + ids.join(' ') + '\n');
  }
  const body = lines.join('');

  console.log(`tokenizer.json sha256 ${sha}`);
  console.log(`@anush008/tokenizers ${bindingsVersion} (Rust tokenizers ${rustVersion}), node ${process.version}`);
  for (const [cat, n] of counts) console.log(`  ${cat.padEnd(16)} ${String(n).padStart(5)}`);
  console.log(`  ${'total'.padEnd(16)} ${String(items.length).padStart(5)}  (${nTokens} tokens, ${body.length} bytes)`);
  console.log(`decode round trip: ${items.length - roundTripFail} ok, ${roundTripFail} differ ` +
    `(${nLossy} strings hold one of the ${dropped.size} byte values that have no token; ` +
    `for those the decode is checked against the text without them)`);

  if (checkOnly) {
    const old = fs.readFileSync(outPath, 'utf8');
    if (old !== body) {
      const a = old.split('\n');
      const b = body.split('\n');
      for (let i = 0; i < Math.max(a.length, b.length); i++) {
        if (a[i] !== b[i]) {
          console.error(`first difference at line ${i + 1}:\n  file: ${a[i]}\n  now:  ${b[i]}`);
          break;
        }
      }
      process.exit(1);
    }
    console.log(`${outPath} is up to date`);
  } else {
    fs.writeFileSync(outPath, body);
    console.log(`wrote ${outPath}`);
  }
  if (roundTripFail) process.exit(2);
}

main().catch((e) => { console.error(e); process.exit(1); });
