#!/usr/bin/env bash
# Regression: strings larger than the decoder's arena chunk (4 KiB .. 16 KiB
# and beyond) at every size class; expected text from a fresh yjs Y.Doc.
# (The first vault sync overflowed the arena with 4-16 KiB notes.)
. "$(dirname "$0")/../lib.sh"
cd "$RGS_TMP"
cat >gen.js <<'JS'
const Y = require('yjs'), fs = require('fs');
const sizes = [100, 4000, 4097, 5000, 8191, 9000, 16384, 16385, 40000, 300000];
sizes.forEach((n, i) => {
  const d = new Y.Doc(); d.clientID = 7 + i;
  const t = d.getText('contents');
  let s = ''; const alphabet = 'abcdefghij äöü ß 😀\n';
  for (let k = 0; s.length < n; k++) s += alphabet[k % alphabet.length];
  t.insert(0, s);
  t.insert(0, 'x'.repeat(n % 97));      // a second item before it
  const u = Y.encodeStateAsUpdate(d);
  const f = new Y.Doc(); Y.applyUpdate(f, u);
  fs.writeFileSync(`s${i}.bin`, u);
  fs.writeFileSync(`s${i}.txt`, f.getText('contents').toString());
});
console.log(sizes.length);
JS
n=$(node gen.js)
for ((i = 0; i < n; i++)); do
  rgs-ydoc -t contents "s$i.bin" >"s$i.json" 2>"s$i.err" && jq -j .contents "s$i.json" >"s$i.got"
  t_diff "string case $i ($(stat -c %s "s$i.txt") bytes) decodes as yjs does" "s$i.got" "s$i.txt"
done
done_testing
