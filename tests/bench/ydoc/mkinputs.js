#!/usr/bin/env node
// Bench inputs for tests/bench/bench-ydoc.sh, generated at bench time into DIR:
//   DIR/small/NNNN.bin  (a) 1,000 notes of 1-20 KB text with edit history (1-3 clients)
//   DIR/big.bin         (b) ~1 MB of text from 100,000 edits by 3 clients
//   DIR/folder.bin      (c) a folder doc: 10,000 filemeta_v0 entries (with history)
// Final bytes are re-encoded by yrs (ywasm), as Relay Server serves them.
//   node mkinputs.js DIR [--small N] [--edits N] [--files N] [--seed S]
'use strict';
const Y = require('yjs');
const yw = require('ywasm');
const fs = require('fs');
const path = require('path');
const args = process.argv.slice(2);
const dir = args[0];
const opt = (n, d) => { const i = args.indexOf('--' + n); return i >= 0 ? Number(args[i + 1]) : d; };
const NSMALL = opt('small', 1000), EDITS = opt('edits', 100000), FILES = opt('files', 10000);
let s = opt('seed', 1) >>> 0;
const rnd = () => { s = (s + 0x6D2B79F5) | 0; let t = Math.imul(s ^ (s >>> 15), 1 | s);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const ri = n => Math.floor(rnd() * n);
const WORDS = ('the quick brown fox jumps over lazy dog lorem ipsum dolor sit amet consectetur adipiscing ' +
  'elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua Übergrößenträger café naïve 東京 😀 ' +
  '# heading - [ ] todo **bold** [[link]]').split(' ');
const chunk = n => { let out = ''; while (out.length < n) out += WORDS[ri(WORDS.length)] + (ri(8) ? ' ' : '\n'); return out.slice(0, n); };
const yrs = u => { const w = new yw.YDoc({}); yw.applyUpdate(w, u, null); return yw.encodeStateAsUpdate(w); };

function history(nclients, target, edits, name, maxChunk = 20) {
  const docs = Array.from({ length: nclients }, (_, i) => { const d = new Y.Doc(); d.clientID = 1000 + i * 7919 + ri(1e6); return d; });
  const cur = docs.map(() => 0);
  let e = 0;
  for (; e < edits; e++) {
    const k = ri(nclients), d = docs[k], t = d.getText(name), L = t.length;
    if (ri(10) === 0) cur[k] = ri(L + 1);
    cur[k] = Math.min(cur[k], L);
    if (L > target || (L > 50 && ri(7) === 0)) {
      const at = Math.max(0, Math.min(cur[k], L - 1)), n = Math.min(1 + ri(10), L - at);
      t.delete(at, n); cur[k] = at;
    } else {
      const c = chunk(1 + ri(maxChunk)); t.insert(cur[k], c); cur[k] += c.length;
    }
    if (nclients > 1 && ri(50) === 0) {
      const a = docs[ri(nclients)], b = docs[ri(nclients)];
      if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
    }
  }
  for (const a of docs) for (const b of docs) if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
  return Y.encodeStateAsUpdate(docs[0]);
}

fs.mkdirSync(path.join(dir, 'small'), { recursive: true });
let total = 0;
for (let i = 0; i < NSMALL; i++) {
  const target = 1000 + ri(19000);
  const u = yrs(history(1 + ri(3), target, Math.round(target / 8) + ri(200), 'contents'));
  total += u.length;
  fs.writeFileSync(path.join(dir, 'small', String(i).padStart(4, '0') + '.bin'), u);
}
const big = yrs(history(3, 1100000, EDITS, 'contents', 26));
fs.writeFileSync(path.join(dir, 'big.bin'), big);

const f = new Y.Doc(); f.clientID = 424242;
const m = f.getMap('filemeta_v0');
const hex = () => Array.from({ length: 64 }, () => '0123456789abcdef'[ri(16)]).join('');
const uuid = () => hex().slice(0, 32).replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, '$1-$2-$3-$4-$5');
for (let i = 0; i < FILES * 1.2; i++) {
  const j = i % FILES;
  const p = `/folder ${j % 50}/sub ${j % 20}/note ${j}.${j % 5 ? 'md' : 'png'}`;
  const v = p.endsWith('.md') ? { version: 0, id: uuid(), type: 'markdown' }
    : { version: 0, id: uuid(), type: 'image', mimetype: 'image/png', synctime: 1700000000000 + ri(1e9), hash: hex() };
  m.set(p, v);
  if (i < FILES && j < FILES * 0.2 && ri(4) === 0) m.delete(p); // set again by the second pass
}
const folder = yrs(Y.encodeStateAsUpdate(f));
fs.writeFileSync(path.join(dir, 'folder.bin'), folder);
console.log(JSON.stringify({ small_files: NSMALL, small_bytes: total, big_bytes: big.length,
  big_text_chars: (() => { const d = new Y.Doc(); Y.applyUpdate(d, big); return d.getText('contents').length; })(),
  folder_bytes: folder.length, folder_keys: (() => { const d = new Y.Doc(); Y.applyUpdate(d, folder); return d.getMap('filemeta_v0').size; })() }));
