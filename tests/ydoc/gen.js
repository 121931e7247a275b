#!/usr/bin/env node
// Random multi-client Yjs histories with expected values (yjs.md §9.1).
//
//   node tests/ydoc/gen.js [--seed N] [--count N] [--first K] [--size small|large]
//                          [--mode yjs|yrs|mixed|any] [--out FILE] [--progress FILE]
//
// --progress FILE: after each case, FILE holds the number of cases done
// (so a caller can tell a slow run from one that loops).
//
// Writes NDJSON, one case per line:
//   {"id":"<seed>/<k>","hex":"<update v1 bytes>","roots":{"t":"text",...},
//    "expect":{"t":"...","m":{...},"a":[...]},"keys":{"[\"m\"]":["k1",...],...}}
// `expect` is JSON.stringify(fresh.getX(name).toJSON()) of a FRESH Y.Doc that
// applied the bytes (bigints as bare integer literals); `keys` gives, for
// every Y.Map reachable from a root (path = JSON array of map keys and array
// indexes), Array.from(ymap.keys()) filtered to live keys: the order the
// decoder must print.
//
// A history: 2-4 peers (yjs Y.Doc, or yrs via ywasm in modes yrs/mixed) with
// client ids from {1,2,3,5,7,2^32-1,2^40+7,2^53-1,123456789}, GC on in most
// cases, random text inserts (ASCII, é, ß, CJK, emoji, 👍🏽, 𝄞, newlines, at
// any UTF-16 offset, so emoji get cut in half), deletes, formatting, embeds,
// Y.Text attributes, map sets of many Any kinds, map deletes, nested
// Y.Map/Y.Text/Y.Array and edits inside them, array inserts/deletes, random
// pairwise partial syncs, lossy delivery of single updates (pending structs,
// Skip), then usually a full sync; the snapshot of one peer, re-encoded by
// yrs in some cases (as the relay does).
'use strict';
const Y = require('yjs');
const yw = require('ywasm');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf('--' + name);
  return i >= 0 ? args[i + 1] : def;
};
const SEED = Number(opt('seed', String(Math.floor(Math.random() * 2 ** 32))));
const COUNT = Number(opt('count', '100'));
const FIRST = Number(opt('first', '0'));
const SIZE = opt('size', 'small');
const MODE = opt('mode', 'any');
const OUT = opt('out', null);
const PROGRESS = opt('progress', null);

function mulberry32(a) {
  return function () {
    a |= 0; a = (a + 0x6D2B79F5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CLIENTS = [1, 2, 3, 5, 7, 2 ** 32 - 1, 2 ** 40 + 7, 2 ** 53 - 1, 123456789];
const TEXTS = ['a', 'hello', 'é', 'ß', '中文字', '😀', '👍🏽', '𝄞', '\n', 'x y', 'ab😀cd', 'Ünïcödé',
  '\t"q"\\', '\u0000', '\uFEFF', 'line\r\n', '  ', 'lorem ipsum dolor ', '😀😀', 'Z'];
const KEYS = ['a', 'b', 'k', 'title', '1', '42', '007', '-1', 'ünï', '😀', '', 'with space', 'x.y', 'n'];
const ATTRS = [{ bold: true }, { italic: true }, { bold: null }, { color: '#f00' }, { link: { href: 'x' } }];
const EMBEDS = [{ image: 'a.png' }, { formula: 'e=mc^2' }, [1, 2], 'str', 42];

function caseRun(caseSeed, k) {
  const rnd = mulberry32(caseSeed);
  const ri = n => Math.floor(rnd() * n);
  const pick = a => a[ri(a.length)];
  const chance = p => rnd() < p;

  let mode = MODE;
  if (mode === 'any') mode = pick(['yjs', 'yjs', 'yjs', 'mixed', 'yrs']);
  const gc = chance(0.8);
  const npeers = 2 + ri(3);
  const ids = [];
  while (ids.length < npeers) { const c = pick(CLIENTS); if (!ids.includes(c)) ids.push(c); }
  const peers = ids.map((id, i) => {
    const kind = mode === 'yjs' ? 'yjs' : mode === 'yrs' ? 'yrs' : (i === 0 ? 'yjs' : pick(['yjs', 'yrs']));
    if (kind === 'yjs') {
      const doc = new Y.Doc({ gc });
      doc.clientID = id;
      const p = { kind, doc, id, log: [] };
      doc.on('update', u => p.log.push(u));
      return p;
    }
    const doc = new yw.YDoc({ clientID: id, gc });
    const p = { kind, doc, id, log: [] };
    doc.onUpdate(u => p.log.push(u));
    return p;
  });
  const isY = p => p.kind === 'yjs';
  const roots = { t: 'text', m: 'map', a: 'array' };
  if (chance(0.3)) roots.contents = 'text';
  if (chance(0.2)) roots.filemeta_v0 = 'map';
  const rootNames = Object.keys(roots);

  const getRoot = (p, name) => {
    const kind = roots[name];
    if (kind === 'text') return p.doc.getText(name);
    if (kind === 'map') return p.doc.getMap(name);
    return p.doc.getArray(name);
  };
  const encode = (p, sv) => isY(p) ? Y.encodeStateAsUpdate(p.doc, sv) : yw.encodeStateAsUpdate(p.doc, sv);
  const sv = p => isY(p) ? Y.encodeStateVector(p.doc) : yw.encodeStateVector(p.doc);
  const apply = (p, u) => isY(p) ? Y.applyUpdate(p.doc, u) : yw.applyUpdate(p.doc, u, null);

  function anyValue(p, depth) {
    const r = ri(30);
    switch (r) {
      case 0: return ri(100);
      case 1: return -ri(100000);
      case 2: return 2 ** 31 + ri(1000);
      case 3: return -(2 ** 31) - ri(1000);
      case 4: return pick([1.5, -0.25, 3.0e9, 0.5, 1e10]);
      case 5: return pick([0.1, Math.PI, 1e-7, 1.5e-7, 1e21, 123.456, -2.5e-300, 5e-324, 1.7976931348623157e308]);
      case 6: return 2 ** 52 + ri(1000);
      case 7: return 2 ** 53 - 1 - ri(10);
      case 8: return pick(TEXTS);
      case 9: return chance(0.5);
      case 10: return null;
      case 11: return pick([NaN, Infinity, -Infinity, -0]);
      case 12: return rnd() * 1e6 - 5e5;
      case 13: return new Uint8Array(Array.from({ length: ri(5) }, () => ri(256)));
      case 14: return isY(p) && depth > 0 ? BigInt(ri(1000)) - 500n : 7;
      case 15: return isY(p) && depth > 0 ? BigInt('9223372036854775807') : 8;
      case 16: case 17: {
        if (depth > 2) return 'deep';
        const o = {};
        const n = ri(4);
        for (let i = 0; i < n; i++) o[pick(KEYS)] = anyValue(p, depth + 1);
        return o;
      }
      case 18: case 19: {
        if (depth > 2) return [];
        return Array.from({ length: ri(4) }, () => anyValue(p, depth + 1));
      }
      case 20: return undefined;
      case 21: return 'long ' + 'x'.repeat(ri(200));
      default: return pick([0, 1, -1, 'v', true, 'é😀']);
    }
  }
  function newType(p) {
    const r = ri(3);
    if (isY(p)) return r === 0 ? new Y.Map() : r === 1 ? new Y.Text() : new Y.Array();
    return r === 0 ? new yw.YMap() : r === 1 ? new yw.YText() : new yw.YArray();
  }
  const typeOf = x => {
    if (x instanceof Y.Text || x instanceof yw.YText) return 'text';
    if (x instanceof Y.Map || x instanceof yw.YMap) return 'map';
    if (x instanceof Y.Array || x instanceof yw.YArray) return 'array';
    return null;
  };
  // Shared types reachable from the roots of peer p (depth <= 3).
  function nested(p) {
    const out = [];
    const visit = (t, depth) => {
      if (depth > 3) return;
      const kind = typeOf(t);
      let vals = [];
      try {
        if (kind === 'map') vals = isY(p) ? Array.from(t.values()) : keysOfW(t).map(k => t.get(k));
        else if (kind === 'array') vals = isY(p) ? t.toArray() : Array.from({ length: t.length() }, (_, i) => t.get(i));
      } catch (e) { vals = []; }
      for (const v of vals) if (typeOf(v)) { out.push(v); visit(v, depth + 1); }
    };
    for (const n of rootNames) visit(getRoot(p, n), 0);
    return out;
  }
  function keysOfW(m) { try { return Object.keys(m.toJson()); } catch (e) { return []; } }
  const len = t => t instanceof Y.AbstractType ? t.length : t.length();

  // yrs panics on offsets inside a surrogate pair: snap them for yrs peers
  function snap(p, t, i) {
    if (isY(p)) return i;
    const s = t.toString();
    const c = s.charCodeAt(i - 1);
    return c >= 0xD800 && c <= 0xDBFF ? i - 1 : i;
  }
  function textOp(p, t) {
    const L = len(t);
    const r = ri(10);
    if (r < 5 || L === 0) {
      const s = pick(TEXTS);
      const at = snap(p, t, ri(L + 1));
      const attrs = chance(0.15) ? pick(ATTRS) : undefined;
      t.insert(at, s, attrs);
    } else if (r < 8) {
      const at = snap(p, t, ri(L));
      const end = snap(p, t, Math.min(L, at + 1 + ri(6)));
      if (end > at) t.delete(at, end - at);
    } else if (r === 8) {
      const at = snap(p, t, ri(L));
      const end = snap(p, t, Math.min(L, at + 1 + ri(5)));
      if (end > at) t.format(at, end - at, pick(ATTRS));
    } else {
      if (chance(0.5) || !isY(p)) t.insertEmbed(snap(p, t, ri(L + 1)), pick(EMBEDS), undefined);
      else t.setAttribute(pick(KEYS), anyValue(p, 1));
    }
  }
  function mapOp(p, m) {
    const r = ri(10);
    if (r < 6) m.set(pick(KEYS), anyValue(p, 0));
    else if (r < 8) m.delete(pick(KEYS));
    else m.set(pick(KEYS), newType(p));
  }
  function arrayOp(p, a) {
    const L = len(a);
    const r = ri(10);
    if (r < 5 || L === 0) a.insert(ri(L + 1), Array.from({ length: 1 + ri(3) }, () => { const v = anyValue(p, 0); return v === undefined ? null : v; }));
    else if (r < 7) { const at = ri(L); a.delete(at, 1 + ri(Math.min(L - at, 3))); }
    else a.insert(ri(L + 1), [newType(p)]);
  }
  function edit(p, t) {
    const kind = typeOf(t);
    if (kind === 'text') textOp(p, t);
    else if (kind === 'map') mapOp(p, t);
    else arrayOp(p, t);
  }

  const steps = SIZE === 'large' ? 300 + ri(1200) : 5 + ri(45);
  for (let s = 0; s < steps; s++) {
    const p = pick(peers);
    const r = ri(20);
    try {
      if (r < 12) {
        const n = pick(rootNames);
        edit(p, getRoot(p, n));
      } else if (r < 15) {
        const ns = nested(p);
        if (ns.length) edit(p, pick(ns));
        else edit(p, getRoot(p, 'm'));
      } else if (r < 19) {
        const q = pick(peers);
        if (q !== p) apply(q, encode(p, sv(q)));
      } else {
        // lossy delivery: some of p's recent updates reach q, one is lost
        const q = pick(peers);
        if (q !== p && p.log.length >= 2) {
          const recent = p.log.slice(-1 - ri(4));
          const lost = ri(recent.length);
          recent.forEach((u, i) => { if (i !== lost) apply(q, u); });
        }
      }
    } catch (e) {
      throw new Error(`case ${k}: step ${s}: ${e && e.stack || e}`);
    }
  }
  if (chance(0.75)) {
    for (let round = 0; round < 2; round++)
      for (const a of peers) for (const b of peers) if (a !== b) apply(b, encode(a, sv(b)));
  }
  const src = pick(peers);
  let bytes = encode(src);
  let encoder = src.kind;
  if (src.kind === 'yjs' && chance(mode === 'yjs' ? 0.15 : 0.5)) {
    const w = new yw.YDoc({ gc });
    yw.applyUpdate(w, bytes, null);
    bytes = yw.encodeStateAsUpdate(w);
    encoder = 'yrs';
  }
  bytes = Uint8Array.from(bytes);

  const fresh = new Y.Doc();
  Y.applyUpdate(fresh, bytes);
  const expect = {};
  const keys = {};
  const walkKeys = (t, path) => {
    if (t instanceof Y.Map) {
      keys[JSON.stringify(path)] = Array.from(t.keys()).filter(k => t.has(k));
      for (const k of t.keys()) if (t.has(k)) walkKeys(t.get(k), path.concat([k]));
    } else if (t instanceof Y.Array) {
      t.toArray().forEach((v, i) => walkKeys(v, path.concat([i])));
    }
  };
  for (const n of rootNames) {
    const t = roots[n] === 'text' ? fresh.getText(n) : roots[n] === 'map' ? fresh.getMap(n) : fresh.getArray(n);
    expect[n] = t.toJSON();
    walkKeys(t, [n]);
  }
  const pending = fresh.store.pendingStructs ? 1 : 0;
  return {
    id: `${SEED}/${k}`,
    info: `${mode} ${encoder} gc=${gc} peers=${ids.join(',')} steps=${steps} pending=${pending}`,
    hex: Buffer.from(bytes).toString('hex'),
    roots,
    expect,
    keys,
  };
}

// Bigints become bare integer literals (the decoder's convention); lone
// surrogates (a String unit read as an array element) become "<lone:d83d>"
// because JSON parsers such as jansson refuse them (test-ydoc maps the
// decoder's "\ud83d" escapes the same way).
const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
function stringify(o) {
  return JSON.stringify(o, (k, v) => typeof v === 'bigint' ? '\u0000BIGINT:' + v.toString()
    : typeof v === 'string' ? v.replace(LONE, c => `<lone:${c.charCodeAt(0).toString(16)}>`) : v)
    .replace(/"\\u0000BIGINT:(-?\d+)"/g, '$1');
}

const lines = [];
let retries = 0;
for (let k = FIRST; k < FIRST + COUNT; k++) {
  const caseSeed = (Math.imul(SEED >>> 0, 0x9E3779B1) ^ Math.imul(k + 1, 0x85EBCA77)) >>> 0;
  // yrs (ywasm) panics on some histories; such a history is replaced by the
  // next one derived from the same seed, deterministically
  let c = null;
  for (let attempt = 0; !c; attempt++) {
    try { c = caseRun((caseSeed + attempt * 0x632BE5AB) >>> 0, k); } catch (e) {
      if (attempt > 20) throw e;
      retries++;
      if (args.includes('--verbose')) process.stderr.write(`gen: case ${k}: ${String(e.message).split('\n')[0].slice(0, 200)}\n`);
    }
  }
  lines.push(stringify(c));
  if (PROGRESS) require('fs').writeFileSync(PROGRESS, lines.length + '\n');
}
const text = lines.join('\n') + '\n';
if (retries && args.includes('--verbose')) process.stderr.write(`gen: ${retries} histories replaced after a yrs panic\n`);
// after a yrs panic, ywasm's finalizers may throw: ignore them, we are done
process.on('uncaughtException', e => {
  if (!/recursive use of an object|unreachable/.test(String(e && e.message))) { console.error(e); process.exit(1); }
});
if (OUT) { require('fs').writeFileSync(OUT, text); process.exit(0); }
else process.stdout.write(text, () => process.exit(0));
