#!/usr/bin/env bash
# rgs-queue alone on fixture spool entries: tests/queue/cases/NAME.in holds
# one spool entry per line (a webhook record as rgs-verify spools it; entry
# N is named 17725751NN.0000000NN.4242.N, "@EN@" in the other files);
# NAME.out: the records on stdout ("time" removed), exit status NAME.status
# (default 0), stderr NAME.err exactly (none: empty), NAME.args: extra
# arguments; NAME.left: the spool afterwards ("DIR NAME" per entry).
# Placeholders @R@ @F@ @F2@ @Dn@ as in tests/plan.  The interval reconcile
# is not due (spool/reconcile.json says every folder was just reconciled).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../plan/wt-lib.sh"
cases=$RGS_ROOT/tests/queue/cases
ename() { printf '17725751%02d.%09d.4242.%d' "$1" "$1" "$1"; }
names() { perl -pe 's/\@E(\d+)\@/sprintf("17725751%02d.%09d.4242.%d",$1,$1,$1)/ge'; }
for in in "$cases"/*.in; do
  name=$(basename "$in" .in)
  DD=$RGS_TMP/$name; wt_init "$DD"
  mkdir -p "$DD/spool/new" "$DD/spool/cur" "$DD/spool/tmp" "$DD/spool/failed"
  jq -cn --arg a "$R/$F" --arg b "$R/$F2" --argjson t "$(date +%s)" '{($a):$t,($b):$t}' >"$DD/spool/reconcile.json"
  n=0
  expand "$in" | while IFS= read -r line; do n=$((n + 1)); printf '%s\n' "$line" >"$DD/spool/new/$(ename $n)"; done
  args=$(expand "$cases/$name.args" 2>/dev/null || true)
  st=0; rgs-queue -d "$DD" $args >"$RGS_TMP/$name.raw" 2>"$RGS_TMP/$name.err" || st=$?
  norm <"$RGS_TMP/$name.raw" >"$RGS_TMP/$name.got"
  expand "$cases/$name.out" | names >"$RGS_TMP/$name.want"
  t_diff "$name: output" "$RGS_TMP/$name.got" "$RGS_TMP/$name.want"
  t_is "$name: exit status" "$st" "$(cat "$cases/$name.status" 2>/dev/null || echo 0)"
  if [ -f "$cases/$name.err" ]; then expand "$cases/$name.err" | names >"$RGS_TMP/$name.err.want"; else : >"$RGS_TMP/$name.err.want"; fi
  t_diff "$name: stderr" "$RGS_TMP/$name.err" "$RGS_TMP/$name.err.want"
  if [ -f "$cases/$name.left" ]; then
    (cd "$DD/spool" && find new cur failed -type f | LC_ALL=C sort | sed 's|/| |') >"$RGS_TMP/$name.left.got"
    names <"$cases/$name.left" >"$RGS_TMP/$name.left.want"
    t_diff "$name: spool afterwards" "$RGS_TMP/$name.left.got" "$RGS_TMP/$name.left.want"
  fi
done
done_testing
