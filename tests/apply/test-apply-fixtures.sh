#!/usr/bin/env bash
# rgs-apply alone on fixture records: tests/apply/cases/NAME.in -> NAME.out
# ("time" removed; placeholders as in tests/plan), exit status NAME.status,
# the work tree afterwards NAME.tree (@SHA16:text@: first 16 hex digits),
# stderr NAME.err exactly (placeholders expanded; no NAME.err: stderr must
# be empty), NAME.folders: shared_folders.json[F] afterwards (jq -S; "null"
# when absent).  NAME.setup (bash) prepares the work tree, cache and state;
# NAME.args: extra arguments of rgs-apply; $RGS_TMP/outside-NAME (made by a
# setup as a symlink target) must stay empty.  "@LIST@" in NAME.in: the
# SHA-256 of shared_folders.json[F] after the setup, as jq -cS prints it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../plan/wt-lib.sh"
cases=$RGS_ROOT/tests/apply/cases
for in in "$cases"/*.in; do
  name=$(basename "$in" .in)
  DD=$RGS_TMP/$name; wt_init "$DD"
  [ -f "$cases/$name.setup" ] && . "$cases/$name.setup"
  expand "$in" | sed "s/\"@LIST@\"/$(list_sha "$F")/g" >"$RGS_TMP/$name.in"
  expand "$cases/$name.out" >"$RGS_TMP/$name.want"
  st=0; rgs-apply -d "$DD" $(cat "$cases/$name.args" 2>/dev/null) <"$RGS_TMP/$name.in" >"$RGS_TMP/$name.raw" 2>"$RGS_TMP/$name.err" || st=$?
  norm <"$RGS_TMP/$name.raw" >"$RGS_TMP/$name.got"
  t_diff "$name: output" "$RGS_TMP/$name.got" "$RGS_TMP/$name.want"
  t_is "$name: exit status" "$st" "$(cat "$cases/$name.status" 2>/dev/null || echo 0)"
  if [ -f "$cases/$name.err" ]; then expand "$cases/$name.err" >"$RGS_TMP/$name.err.want"; else : >"$RGS_TMP/$name.err.want"; fi
  t_diff "$name: stderr" "$RGS_TMP/$name.err" "$RGS_TMP/$name.err.want"
  if [ -f "$cases/$name.folders" ]; then
    state_json "$DD" shared_folders | jq -S --arg f "$F" '.[$f]' >"$RGS_TMP/$name.folders.got"
    [ -s "$RGS_TMP/$name.folders.got" ] || echo null >"$RGS_TMP/$name.folders.got"
    expand "$cases/$name.folders" | jq -S . >"$RGS_TMP/$name.folders.want"
    t_diff "$name: shared_folders.json" "$RGS_TMP/$name.folders.got" "$RGS_TMP/$name.folders.want"
  fi
  if [ -f "$cases/$name.tree" ]; then
    perl -pe 's/\@SHA16:(.*?)\@/my $t=$1; my $h=`printf "$t" | sha256sum`; substr($h,0,16)/ge' "$cases/$name.tree" >"$RGS_TMP/$name.tree.want"
    tree "$DD/repos/$R/$F" >"$RGS_TMP/$name.tree.got"
    t_diff "$name: work tree" "$RGS_TMP/$name.tree.got" "$RGS_TMP/$name.tree.want"
  fi
  [ -d "$RGS_TMP/outside-$name" ] &&   # a setup's symlink target outside the tree
    t_is "$name: nothing written through the symlink" "$(ls -A "$RGS_TMP/outside-$name")" ""
  t_is "$name: nothing outside the repository and rgs-apply's directories" \
    "$(ls -A "$DD" | grep -vxE 'cache|git_connectors.toml|locks|repos|state|tmp' | tr '\n' ' ')" ""
done
done_testing
