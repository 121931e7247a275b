'use strict';
/*
 * Canvas helpers shared by the stand-in and the tests (an oracle written
 * from the Relay plugin's documented behaviour, relay.md §3.3, independent
 * of the C exporter):
 *   canvasDataOf(Y, update)  -> {roots, texts, nodes:[[k,v]...], edges:[[k,v]...]}
 *   obsidianCanvas(data)     -> the plugin's on-disk text (exportCanvasData +
 *                               formatCanvasData: tabs, one-line primitive
 *                               containers, nodes before edges, no final newline)
 */
function canvasDataOf(Y, update) {
  const d = new Y.Doc();
  Y.applyUpdate(d, update);
  const roots = Array.from(d.share.keys());
  const texts = {};
  for (const r of roots) {
    if (['nodes', 'edges', 'relay', 'users'].includes(r)) continue;
    texts[r] = d.getText(r).toString();
  }
  const nodes = Array.from(d.getMap('nodes').entries());
  const edges = Array.from(d.getMap('edges').entries());
  d.destroy();
  return { roots, texts, nodes, edges };
}

function obsidianCanvas(cd) {
  const nodes = cd.nodes.map(([, n]) => {
    const t = n && typeof n.id === 'string' && cd.texts[n.id] ? cd.texts[n.id] : undefined;
    return t !== undefined ? { ...n, text: t } : { ...n };
  });
  const edges = cd.edges.map(([, e]) => ({ ...e }));
  const prim = (v) => typeof v !== 'object';
  const lines = (v) => {
    if (v === undefined) return ['null'];
    if (prim(v) || v === null) return [JSON.stringify(v)];
    if (Array.isArray(v)) {
      if (v.every(prim)) return [JSON.stringify(v)];
      const out = ['['];
      v.forEach((x, i) => { const c = lines(x); c.forEach((l, j) => out.push('\t' + l + (j === c.length - 1 && i < v.length - 1 ? ',' : ''))); });
      out.push(']');
      return out;
    }
    if (Object.keys(v).every((k) => prim(v[k]))) return [JSON.stringify(v)];
    const keys = Object.keys(v).filter((k) => v[k] !== undefined);
    const out = ['{'];
    keys.forEach((k, i) => {
      const c = lines(v[k]);
      c[0] = JSON.stringify(k) + ':' + c[0];
      c.forEach((l, j) => out.push('\t' + l + (j === c.length - 1 && i < keys.length - 1 ? ',' : '')));
    });
    out.push('}');
    return out;
  };
  return lines({ nodes, edges }).join('\n');
}

module.exports = { canvasDataOf, obsidianCanvas };
