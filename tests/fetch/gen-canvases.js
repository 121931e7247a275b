'use strict';
/*
 * Random canvases for the exporter tests: each line of output is
 *   {"data": <canvas data (tests/standin/canvas.js canvasDataOf)>,
 *    "typed": "<the same maps as JSON text whose numbers say how yjs
 *              encoded them: Any integer -> no '.', Any float -> '.' or
 *              an exponent>",
 *    "obsidian": "<the plugin-format export (canvas.js)>"}
 * The documents are built with the real yjs as the Relay plugin builds
 * them (nodes/edges maps of plain JSON, a Y.Text per text card, 'relay'
 * header).  Usage: node gen-canvases.js COUNT SEED
 */
const Y = require('yjs');
const { canvasDataOf, obsidianCanvas } = require('../standin/canvas.js');

const count = +process.argv[2] || 50;
let seed = +process.argv[3] || 1;
const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const pick = (a) => a[Math.floor(rnd() * a.length)];
const hex = (n) => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(rnd() * 16)]).join('');

const STRS = ['', 'a', 'Grüße', 'Ziele für das **Quartal** – Übersicht 🚀', 'line\nbreak\ttab', 'quote " back \\ slash',
  'ctl \u0001\u001f\u007f', 'emoji 👩‍👩‍👧 𝄞', '\u2028\u2029', 'ü'.repeat(40), '<html>&amp;</html>', '日本語のテキスト'];
const NUMS = [0, 1, -1, 42, -420, 360, 2147483647, -2147483647, 2147483648, 3000000000, 1767225600000,
  0.5, -0.25, 1.1, 123.456, 1e21, 1e-7, 1e16, 1e-5, 0.0001, 12345678.9, -0, 3.4028234663852886e38, 5e-324];
function value(depth) {
  const r = rnd();
  if (r < 0.35) return pick(NUMS);
  if (r < 0.7) return pick(STRS);
  if (r < 0.78) return rnd() < 0.5;
  if (r < 0.84) return null;
  if (depth > 1) return pick(NUMS);
  if (r < 0.92) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
  const o = {};
  for (let i = Math.floor(rnd() * 3); i > 0; i--) o[pick(['k', 'x', '2', 'ä', 'z'])] = value(depth + 1);
  return o;
}
function node(id) {
  const type = pick(['text', 'text', 'file', 'link', 'group']);
  const n = { id, type, x: pick(NUMS), y: pick(NUMS), width: pick([250, 400, 360.5]), height: pick([60, 120, 1e-7]) };
  if (type === 'text') n.text = pick(STRS);
  if (type === 'file') n.file = pick(['Startseite.md', 'Bilder/Ä b.png', 'x.pdf']);
  if (type === 'link') n.url = 'https://obsidian.md/' + hex(4);
  if (type === 'group') n.label = pick(STRS);
  if (rnd() < 0.3) n.color = pick(['1', '4', '#ff0000']);
  if (rnd() < 0.15) n[pick(['10', '1', '0', 'extra', 'styleAttributes'])] = value(0);
  if (rnd() < 0.05) delete n.id;
  return n;
}
function typed(v) {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && Math.abs(v) <= 0x7fffffff) return String(v); // -0 too: lib0 writes it as a varint
    if (!Number.isFinite(v)) return 'null';
    const s = String(v);
    return /[.e]/.test(s) ? s : s + '.0';
  }
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(typed).join(',') + ']';
  return '{' + Object.keys(v).map((k) => JSON.stringify(k) + ':' + typed(v[k])).join(',') + '}';
}

for (let c = 0; c < count; c++) {
  const doc = new Y.Doc();
  doc.clientID = 1 + c;
  doc.transact(() => {
    doc.getMap('relay').set('v', 0);
    const nodes = doc.getMap('nodes');
    const edges = doc.getMap('edges');
    const ids = [];
    for (let i = Math.floor(rnd() * 7); i > 0; i--) {
      const id = rnd() < 0.1 ? '' : hex(16);
      const n = node(id);
      ids.push(id);
      nodes.set(id || 'k' + hex(4), n);
      if (n.type === 'text' && rnd() < 0.8) doc.getText(id).insert(0, rnd() < 0.2 ? '' : pick(STRS) + ' ' + hex(3));
    }
    for (let i = Math.floor(rnd() * 4); i > 0; i--) {
      const e = { id: hex(16), fromNode: pick(ids.concat(['x'])), fromSide: pick(['left', 'right']), toNode: pick(ids.concat(['y'])), toSide: 'top' };
      if (rnd() < 0.3) e.label = pick(STRS);
      if (rnd() < 0.2) e.toEnd = 'arrow';
      edges.set(e.id, e);
    }
  });
  // later edits by a second client: overwrite a node, delete one, edit a card's text
  const upd = Y.encodeStateAsUpdate(doc);
  const d2 = new Y.Doc();
  d2.clientID = 1000 + c;
  Y.applyUpdate(d2, upd);
  const keys = Array.from(d2.getMap('nodes').keys());
  if (keys.length && rnd() < 0.5) d2.getMap('nodes').set(keys[0], node(pick([keys[0], hex(16)])));
  if (keys.length > 1 && rnd() < 0.3) d2.getMap('nodes').delete(keys[1]);
  const data = canvasDataOf(Y, Y.encodeStateAsUpdate(d2));
  const nodesObj = '{' + data.nodes.map(([k, v]) => JSON.stringify(k) + ':' + typed(v)).join(',') + '}';
  const edgesObj = '{' + data.edges.map(([k, v]) => JSON.stringify(k) + ':' + typed(v)).join(',') + '}';
  const texts = {};
  for (const r of data.roots) if (!['nodes', 'edges', 'relay'].includes(r)) texts[r] = data.texts[r];
  const typedText = `{"nodes":${nodesObj},"edges":${edgesObj},"texts":${JSON.stringify(texts)}}`;
  process.stdout.write(JSON.stringify({ data, typed: typedText, obsidian: obsidianCanvas(data) }) + '\n');
}
