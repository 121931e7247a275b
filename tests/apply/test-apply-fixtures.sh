#!/usr/bin/env bash
# rgs-apply alone on fixture records: tests/apply/cases/NAME.in -> NAME.out
# ("time" removed; placeholders as in tests/plan), exit status NAME.status,
# the work tree afterwards NAME.tree (@SHA16:text@: first 16 hex digits).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../plan/wt-lib.sh"
cases=$RGS_ROOT/tests/apply/cases
for in in "$cases"/*.in; do
  name=$(basename "$in" .in)
  DD=$RGS_TMP/$name; wt_init "$DD"
  [ -f "$cases/$name.setup" ] && . "$cases/$name.setup"
  expand "$in" >"$RGS_TMP/$name.in"
  expand "$cases/$name.out" >"$RGS_TMP/$name.want"
  st=0; rgs-apply -d "$DD" <"$RGS_TMP/$name.in" >"$RGS_TMP/$name.raw" 2>"$RGS_TMP/$name.err" || st=$?
  norm <"$RGS_TMP/$name.raw" >"$RGS_TMP/$name.got"
  t_diff "$name: output" "$RGS_TMP/$name.got" "$RGS_TMP/$name.want"
  t_is "$name: exit status" "$st" "$(cat "$cases/$name.status" 2>/dev/null || echo 0)"
  if [ -f "$cases/$name.tree" ]; then
    perl -pe 's/\@SHA16:(.*?)\@/my $t=$1; my $h=`printf "$t" | sha256sum`; substr($h,0,16)/ge' "$cases/$name.tree" >"$RGS_TMP/$name.tree.want"
    tree "$DD/repos/$R/$F" >"$RGS_TMP/$name.tree.got"
    t_diff "$name: work tree" "$RGS_TMP/$name.tree.got" "$RGS_TMP/$name.tree.want"
  fi
  t_is "$name: nothing outside the repository" "$(ls "$DD" | tr '\n' ' ')" "cache git_connectors.toml locks repos state tmp "
done
done_testing
