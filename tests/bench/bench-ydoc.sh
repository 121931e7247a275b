#!/usr/bin/env bash
# make bench, decoder area: rgs-ydoc against yjs in node on the same bytes.
#   (a) 1,000 notes (1-20 KB of text, with edit history by 1-3 clients)
#   (b) one text of ~1 MB built from 100,000 edits by 3 clients
#   (c) a folder document with 10,000 filemeta_v0 entries (with overwrites)
# Inputs come from tests/bench/ydoc/mkinputs.js (yjs histories, bytes
# re-encoded by yrs as Relay serves them), generated at bench time and
# cached in build/bench-ydoc/ until the generator changes.
# Time: in-process, per pass over the case's files (best of 3 runs; each run
# one untimed warm-up pass, then R timed passes): rgs-ydoc --bench-repeat R
# vs node tests/bench/ydoc/node-bench.js R (new Y.Doc, Y.applyUpdate,
# toString()/toJSON(), JSON.stringify).  Both report the wall time measured
# in-process around the passes and the CPU time (user+system, all of node's
# threads, its garbage collector included).  Target: throughput ratio
# node wall / rgs-ydoc wall >= 10 on (a) and (b); the CPU ratio is printed
# beside it.
# Memory: peak RSS (/usr/bin/time) of one plain rgs-ydoc run over the case's
# files, the whole process (its baseline on the empty update "00 00" is
# printed too), against the target 10 x largest update + 2 MB; node's peak
# RSS for one pass, and over its own baseline, for reference.
set -u
top=${RGS_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${RGS_BIN:-$top/build/bin}
export NODE_PATH=$top/tests/node_modules
cd "$top" || exit 1
dir=$top/build/bench-ydoc
stamp=$(sha1sum tests/bench/ydoc/mkinputs.js | cut -c1-16)
if [ ! -f "$dir/$stamp.done" ]; then
  echo "generating inputs (yjs + ywasm, about two minutes) ..."
  rm -rf "$dir"; mkdir -p "$dir"
  node tests/bench/ydoc/mkinputs.js "$dir" >"$dir/info.json" || { echo "input generation failed"; exit 1; }
  touch "$dir/$stamp.done"
fi
echo "inputs: $(cat "$dir/info.json")"
echo "node $(node --version), yjs $(node -p 'require("yjs/package.json").version')"
num() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p"; }
best() { # command... -> "cpu wall": the smallest of 3 runs each
  local bc="" bw="" out c w
  for _ in 1 2 3; do
    out=$("$@") || return 1
    c=$(echo "$out" | num cpu_seconds); w=$(echo "$out" | num seconds)
    [ -n "$c" ] && [ -n "$w" ] || return 1
    if [ -z "$bc" ] || awk "BEGIN{exit !($c < $bc)}"; then bc=$c; fi
    if [ -z "$bw" ] || awk "BEGIN{exit !($w < $bw)}"; then bw=$w; fi
  done
  echo "$bc $bw"
}
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; } # KB
printf '\0\0' >"$dir/empty.bin"
base_c=$(rss "$bin/rgs-ydoc" "$dir/empty.bin")
base_n=$(rss node -e 0)
fail=0
printf '%-32s %8s %10s %10s %6s %6s %16s %9s %15s\n' case input "rgs wall" "node wall" ratio "cpu" "rgs peak RSS" target "node RSS (+b)"
run() { # label repeat target_ratio files...
  local label=$1 rep=$2 want=$3; shift 3
  local bytes maxf c n tc tn wc wn ratio wratio mc mn target ok
  bytes=$(cat "$@" | wc -c)
  maxf=$(ls -l "$@" | awk '{if ($5 > m) m = $5} END {print m}')
  c=$(best "$bin/rgs-ydoc" --bench-repeat "$rep" "$@") || { echo "$label: rgs-ydoc failed"; fail=1; return; }
  n=$(best node tests/bench/ydoc/node-bench.js "$rep" "$@") || { echo "$label: node failed"; fail=1; return; }
  tc=$(awk "BEGIN{print ${c% *} / $rep}"); tn=$(awk "BEGIN{print ${n% *} / $rep}")
  wc=$(awk "BEGIN{print ${c#* } / $rep}"); wn=$(awk "BEGIN{print ${n#* } / $rep}")
  cratio=$(awk "BEGIN{printf \"%.1f\", $tn / $tc}")
  ratio=$(awk "BEGIN{printf \"%.1f\", $wn / $wc}")
  mc=$(rss "$bin/rgs-ydoc" "$@"); mn=$(rss node tests/bench/ydoc/node-bench.js 1 "$@")
  target=$(( (10 * maxf) / 1024 + 2048 ))
  ok=ok
  [ "$mc" -lt "$target" ] || { ok="OVER"; fail=1; }
  if [ "$want" != - ] && ! awk "BEGIN{exit !($ratio >= $want)}"; then ok="$ok, ratio below $want"; fail=1; fi
  printf '%-32s %7.2fM %8.4fs %8.4fs %5sx %5sx %15dK %8dK %7dK (+%dK)  %s\n' "$label" \
    "$(awk "BEGIN{print $bytes / 1048576}")" "$wc" "$wn" "$ratio" "$cratio" "$mc" "$target" "$mn" $((mn - base_n)) "$ok"
}
run "(a) 1,000 notes, per pass" 3 10 "$dir"/small/*.bin
run "(b) 1 MB text, 100k edits" 5 10 "$dir/big.bin"
run "(c) folder, 10,000 filemeta_v0" 5 - "$dir/folder.bin"
echo "baseline RSS (empty update): rgs-ydoc ${base_c}K, node ${base_n}K; memory target: peak RSS < 10 x largest input + 2 MB"
echo "times: per pass, in-process wall clock, best of 3 runs; ratio = node wall / rgs-ydoc wall (target >= 10 on (a), (b)); cpu = the same ratio on user+system time"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $fail
