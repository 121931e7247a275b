#!/usr/bin/env bash
# rgs-ydoc, the tool: output shape, options, exit codes, error messages, and
# JSON text byte-identical to JSON.stringify where JS can print it (numbers
# above all).  Truth: yjs 13.6.33 in node.
. "$(dirname "$0")/../lib.sh"
cd "$RGS_TMP" || exit 1
hex() { printf '%s' "$1" | tr -d ' ' | xxd -r -p; }

t_status "--help exits 0" 0 sh -c 'rgs-ydoc --help >/dev/null'
rgs-ydoc --help | grep -q 'usage: rgs-ydoc' && ok "--help prints usage" || notok "--help prints usage"
t_status "unknown option exits 100" 100 sh -c 'rgs-ydoc --no-such-option 2>/dev/null'

hex "01 01 01 00 04 01 01 74 05 68 65 6c 6c 6f 00" >hello.bin
hex "01 04 01 00 27 01 01 6d 01 6e 01 28 00 01 00 01 78 01 77 01 79 27 00 01 00 01 74 02 04 00 01 02 05 f0 9f 98 80 61 00" >nested.bin
t_is "one file, one line" "$(rgs-ydoc hello.bin)" '{"t":"hello"}'
t_is "stdin without FILE" "$(rgs-ydoc <nested.bin)" '{"m":{"n":{"x":"y","t":"😀a"}}}'
t_is "several files, one line each" "$(rgs-ydoc hello.bin nested.bin | wc -l)" 2
t_is "-t/-m/-a state kinds; stated roots missing from the doc are empty" \
  "$(rgs-ydoc -a t -m zz -t contents -a arr hello.bin)" '{"t":["h","e","l","l","o"],"zz":{},"contents":"","arr":[]}'

hex "00 00" >empty.bin
out=$(rgs-ydoc empty.bin 2>err); rc=$?
t_is "00 00 prints {}" "$out" '{}'
t_is "00 00 exits 0" "$rc" 0
grep -q "never written" err && ok "00 00 reported as never written" || notok "00 00 reported as never written"

hex "00 00 01 01 00 00 01 04 09 06 74 68 65 6c 6c 6f 01 05 01 01 00 00 01 01 00 00" >v2.bin
t_status "v2 update exits 100" 100 rgs-ydoc v2.bin
rgs-ydoc v2.bin 2>&1 | grep -q "rgs-ydoc: error: decode 'v2.bin': byte 0: .*v2" && ok "v2 message names byte 0" || notok "v2 message names byte 0"
head -c 9 hello.bin >trunc.bin
t_status "truncated update exits 100" 100 rgs-ydoc trunc.bin
rgs-ydoc trunc.bin 2>&1 | grep -q "byte 8: truncated" && ok "truncation message names the byte" || notok "truncation message names the byte"
out=$(rgs-ydoc hello.bin trunc.bin nested.bin 2>/dev/null); rc=$?
t_is "a bad input among good ones: exit 100" "$rc" 100
t_is "a bad input among good ones: the good ones print" "$(echo "$out" | wc -l)" 2
t_status "missing file exits 100" 100 rgs-ydoc no-such-file.bin

# JSON text identical to JSON.stringify(ytype.toJSON()): doubles from random
# bit patterns (shortest round trip, exponent rules), strings with every
# control character, nested values.  Keys are not integer-like, so JS keeps
# Map.keys() order in the object and the text must match byte for byte.
cat >mk.js <<'JS'
const Y = require('yjs'); const fs = require('fs');
const doc = new Y.Doc(); doc.clientID = 42;
const a = doc.getArray('a'), m = doc.getMap('m');
let s = 12345;
const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
const vals = [0.1, 1e21, 1e-7, 1.5e-7, 123e-20, 5e-324, 1.7976931348623157e308, 2 ** 53, 2 ** 53 + 2, -0, 0.5,
  1e20, 123456789012345680000, 4.35, 0.000001, 1e-6, 2 ** -1074, 100, -1e-300, 3e9, 2 ** 31, -(2 ** 31) - 1,
  9007199254740993, 1.2345678901234567e-5, 5e-7];
const buf = new DataView(new ArrayBuffer(8));
for (let i = 0; i < 3000; i++) {
  buf.setUint32(0, rnd()); buf.setUint32(4, rnd());
  const x = buf.getFloat64(0);
  if (Number.isFinite(x)) vals.push(x);
  vals.push((rnd() / 2 ** 32) * 10 ** ((rnd() % 40) - 20));
  if (i % 10 === 0) { buf.setUint32(0, rnd()); vals.push(Math.fround(buf.getFloat32(0)) || 1); }
}
a.insert(0, vals);
let ctl = ''; for (let c = 0; c < 0x20; c++) ctl += String.fromCharCode(c);
m.set('ctl', ctl + '"\\/\u007f\u2028\u00e9😀');
m.set('obj', { k: [1, null, 'x', { deep: [true, false] }], e: {} });
m.set('nan', [NaN, Infinity, -Infinity, undefined]);
m.set('gone', undefined);
fs.writeFileSync('js.bin', Y.encodeStateAsUpdate(doc));
const fresh = new Y.Doc(); Y.applyUpdate(fresh, fs.readFileSync('js.bin'));
fs.writeFileSync('js.want', JSON.stringify({ a: fresh.getArray('a').toJSON(), m: fresh.getMap('m').toJSON() }) + '\n');
JS
if node mk.js; then
  rgs-ydoc -a a -m m js.bin >js.got
  t_diff "JSON text equals JSON.stringify (3,000+ numbers, control characters)" js.got js.want
else
  notok "node yjs fixture"
fi

# Integer-like keys: JSON.stringify lists array indices (0 .. 2^32-2, no
# leading zero) first, ascending, then the other keys in creation order --
# in Y.Maps, in plain objects inside them, and among the root names (a root
# named "7", one named "a\u0000b" with a NUL byte).
cat >ix.js <<'JS'
const Y = require('yjs'); const fs = require('fs');
const doc = new Y.Doc(); doc.clientID = 5;
const keys = ['b', '10', '2', '01', '-1', '4294967295', '4294967294', '0', 'a', '1.5', ' 3', '3'];
const m = doc.getMap('z');
for (const k of keys) m.set(k, k.length);
m.set('obj', Object.fromEntries(keys.map((k, i) => [k, i])));
const inner = new Y.Map(); m.set('inner', inner);
for (const k of keys.slice().reverse()) inner.set(k, [k]);
doc.getText('7').insert(0, 'seven');
doc.getArray('a\u0000b').insert(0, [1]);
fs.writeFileSync('ix.bin', Y.encodeStateAsUpdate(doc));
const fresh = new Y.Doc(); Y.applyUpdate(fresh, fs.readFileSync('ix.bin'));
const out = {};
out.z = fresh.getMap('z').toJSON();
out['7'] = fresh.getText('7').toString();
out['a\u0000b'] = fresh.getArray('a\u0000b').toJSON();
fs.writeFileSync('ix.want', JSON.stringify(out) + '\n');
JS
if node ix.js; then
  rgs-ydoc -m z -t 7 ix.bin >ix.got
  t_diff "integer-like keys and root names in JSON.stringify's order (NUL in a root name too)" ix.got ix.want
else
  notok "node yjs integer-key fixture"
fi

# Text with characters that need escaping or are not ASCII at every offset
# of the 8/16-unit fast paths, edited by two clients (split items).
cat >txt.js <<'JS'
const Y = require('yjs'); const fs = require('fs');
let s = 7; const rnd = n => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) % n;
const special = ['"', '\\', '\n', '\u0001', '\u001f', 'é', '中', '😀', '\u007f', '\u2028', '/'];
const a = new Y.Doc(); a.clientID = 11; const b = new Y.Doc(); b.clientID = 12;
for (let i = 0; i < 600; i++) {
  const d = i % 3 ? a : b, t = d.getText('t');
  let piece = 'x'.repeat(rnd(20)) + special[rnd(special.length)] + 'y'.repeat(rnd(9));
  const at = rnd(t.length + 1);
  t.insert(at, piece);
  if (i % 7 === 0 && t.length > 10) t.delete(rnd(t.length - 5), 1 + rnd(4));
  if (i % 13 === 0) { Y.applyUpdate(b, Y.encodeStateAsUpdate(a)); Y.applyUpdate(a, Y.encodeStateAsUpdate(b)); }
}
Y.applyUpdate(b, Y.encodeStateAsUpdate(a)); Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
fs.writeFileSync('txt.bin', Y.encodeStateAsUpdate(a));
const fresh = new Y.Doc(); Y.applyUpdate(fresh, fs.readFileSync('txt.bin'));
fs.writeFileSync('txt.want', JSON.stringify({ t: fresh.getText('t').toString() }) + '\n');
fs.writeFileSync('txt.raw', fresh.getText('t').toString());
JS
if node txt.js; then
  rgs-ydoc -t t txt.bin >txt.got
  t_diff "text JSON equals JSON.stringify (escapes and non-ASCII at every offset)" txt.got txt.want
  rgs-ydoc -t t txt.bin | jq -j .t >txt.jq
  t_diff "the text itself (through jq) equals toString()" txt.jq txt.raw
else
  notok "node yjs text fixture"
fi

# typed numbers (-T): floats keep a fraction, integers never get one
cat >typed.js <<'JS'
const Y = require('yjs'); const fs = require('fs');
const doc = new Y.Doc(); doc.clientID = 3;
doc.getArray('a').insert(0, [1, 2.5, 3e9, 2 ** 40, -7, 0.1, 1e21]);
fs.writeFileSync('typed.bin', Y.encodeStateAsUpdate(doc));
JS
node typed.js
t_is "-T marks floats (yjs writes 3e9 and 2^40 as floats)" "$(rgs-ydoc -T -a a typed.bin)" \
  '{"a":[1,2.5,3000000000.0,1099511627776.0,-7,0.1,1e+21]}'
t_is "without -T numbers print like JS" "$(rgs-ydoc -a a typed.bin)" \
  '{"a":[1,2.5,3000000000,1099511627776,-7,0.1,1e+21]}'
done_testing
