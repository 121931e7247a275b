#!/usr/bin/env node
// The reference for bench-ydoc.sh: yjs in node on the same bytes.
//   node node-bench.js REPEAT FILE...
// Reads every FILE, runs one untimed warm-up pass (JIT), then REPEAT timed
// passes: for each file, new Y.Doc, Y.applyUpdate, and materialize every
// root as rgs-ydoc does (toString() for texts, toJSON() for maps, then
// JSON.stringify); prints {"files","bytes","repeat","seconds","cpu_seconds"}
// (cpu_seconds: process.cpuUsage, user + system, all of node's threads).
'use strict';
const Y = require('yjs');
const fs = require('fs');
const [repeat, ...files] = process.argv.slice(2);
const bufs = files.map(f => fs.readFileSync(f));
let out = 0;
const pass = () => {
  for (const b of bufs) {
    const d = new Y.Doc();
    Y.applyUpdate(d, b);
    const o = {};
    for (const name of d.share.keys()) o[name] = name === 'filemeta_v0' ? d.getMap(name).toJSON() : d.getText(name).toString();
    out += JSON.stringify(o).length;
    d.destroy();
  }
};
if (Number(repeat) > 1) pass();
out = 0;
const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
for (let r = 0; r < Number(repeat); r++) pass();
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const cu = process.cpuUsage(c0), cpu = (cu.user + cu.system) / 1e6;
console.log(JSON.stringify({ files: files.length, bytes: bufs.reduce((a, b) => a + b.length, 0), repeat: Number(repeat), seconds: secs, cpu_seconds: cpu, output_chars: out }));
