#!/usr/bin/env bash
# lib/rgs_canvas against independent oracles: python3's repr/json.dumps
# (the original's canvas format) and node's Number/JSON.stringify plus the
# plugin-format oracle tests/standin/canvas.js, on random numbers, strings
# and canvases built with the real yjs.
. "$(dirname "$0")/../lib.sh"
U=$(dirname "$RGS_BIN")/tests/test-fetch-canvas
[ -x "$U" ] || { notok "unit filter $U built"; done_testing; }
T=$RGS_TMP

# --- numbers: random bit patterns and the interesting decades
python3 - >"$T/nums" <<'PY'
import random, struct
random.seed(4)
out = []
for _ in range(3000):
    d = struct.unpack('<d', random.getrandbits(64).to_bytes(8, 'little'))[0]
    out.append(d)
for e in range(-30, 30):
    for m in (1, 1.5, 9.999999999999999, 123456789, 0.1, 3):
        out.append(m * 10.0 ** e)
        out.append(-m * 10.0 ** e)
out += [0.0, -0.0, float('inf'), float('-inf'), float('nan'), 5e-324, 1.7976931348623157e308, 2.0**53, 2.0**63, 1e16, 1e15, 1e21]
for d in out:
    print(d.hex() if d == d and abs(d) != float('inf') else repr(d).replace('inf', 'INF').replace('nan', 'NAN'))
PY
"$U" --py-float <"$T/nums" >"$T/c-py"
python3 -c '
import json, sys
for l in open(sys.argv[1]):
    l = l.strip()
    d = float.fromhex(l) if l.startswith(("0x", "-0x")) else float(l.lower())
    print(json.dumps(d))' "$T/nums" >"$T/want-py"
t_diff "$(wc -l <"$T/nums") numbers: Python float repr (json.dumps)" "$T/c-py" "$T/want-py"
"$U" --js-number <"$T/nums" >"$T/c-js"
python3 -c '
import sys
for l in open(sys.argv[1]):
    l = l.strip()
    d = float.fromhex(l) if l.startswith(("0x", "-0x")) else float(l.lower())
    print(repr(d))' "$T/nums" >"$T/nums-dec"
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
process.stdout.write(lines.map((l) => JSON.stringify(Number(l.replace("inf", "Infinity").replace("nan", "NaN")))).join("\n") + "\n");' "$T/nums-dec" >"$T/want-js"
t_diff "the same numbers: JSON.stringify(Number)" "$T/c-js" "$T/want-js"

# --- strings
python3 - >"$T/strs" <<'PY'
import json, random
random.seed(9)
pool = [chr(c) for c in range(0, 0x80)] + list("äöüßÄ€–—…\u2028\u2029\ufeff\ufffd") + ["🚀", "𝄞", "👩‍👩‍👧", "\U0010ffff"]
for i in range(500):
    s = "".join(random.choice(pool) for _ in range(random.randint(0, 30)))
    print(json.dumps(s))
PY
"$U" --py-string <"$T/strs" >"$T/c-pys"
python3 -c '
import json, sys
for l in open(sys.argv[1]): print(json.dumps(json.loads(l)))' "$T/strs" >"$T/want-pys"
t_diff "500 strings: json.dumps (ensure_ascii)" "$T/c-pys" "$T/want-pys"
"$U" --js-string <"$T/strs" >"$T/c-jss"
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
process.stdout.write(lines.map((l) => JSON.stringify(JSON.parse(l))).join("\n") + "\n");' "$T/strs" >"$T/want-jss"
t_diff "the same strings: JSON.stringify" "$T/c-jss" "$T/want-jss"

# --- whole canvases from yjs documents
node "$RGS_ROOT/tests/fetch/gen-canvases.js" 300 17 >"$T/canvases"
jq -c .data "$T/canvases" >"$T/data"
jq -r .typed "$T/canvases" >"$T/typed"
for mode in python python-int; do
  python3 "$RGS_ROOT/tests/fetch/canvas_oracle.py" $mode <"$T/data" >"$T/want-$mode"
  "$U" --render $mode <"$T/typed" >"$T/got-$mode"
  t_diff "300 canvases, $mode format = the original's json.dumps" "$T/got-$mode" "$T/want-$mode"
done
jq -j '.obsidian + "\u0000"' "$T/canvases" >"$T/want-obs"
"$U" --render obsidian <"$T/typed" >"$T/got-obs"
t_diff "300 canvases, obsidian format = the plugin's export" "$T/got-obs" "$T/want-obs"
t_is "canvases cover text roots, floats, index keys" \
  "$(grep -c '"1767225600000.0\|1767225600000.0' "$T/want-python" >/dev/null && echo y)$(jq -r '.typed' "$T/canvases" | grep -c '"10":' | sed 's/^[1-9][0-9]*$/y/')" "yy"
done_testing
