#!/usr/bin/env bash
# rgs-plan alone on fixture records: tests/plan/cases/NAME.in -> NAME.out
# (placeholders @R@ @F@ @Dn@ @SHA:text@ expanded by sha256sum), exit status
# NAME.status (default 0); NAME.setup (bash) prepares state and work tree;
# NAME.conf: "PREFIX OWNS" of the connector; NAME.err: text expected on stderr.
# "@LIST@" ("@LIST2@") in NAME.out: the SHA-256 of the stored file list of folder F (F2) as
# jq -cS prints it (null when none is stored), the filemeta op's
# pre.list_sha256.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/wt-lib.sh"
cases=$RGS_ROOT/tests/plan/cases
for in in "$cases"/*.in; do
  name=$(basename "$in" .in)
  DD=$RGS_TMP/$name
  wt_init "$DD" $(cat "$cases/$name.conf" 2>/dev/null)
  if [ -f "$cases/$name.setup" ]; then
    . "$cases/$name.setup" >"$RGS_TMP/$name.setup.log" 2>&1 || { notok "$name: setup"; continue; }
  fi
  expand "$in" >"$RGS_TMP/$name.in"
  expand "$cases/$name.out" | sed "s/\"@LIST@\"/$(list_sha "$F")/g; s/\"@LIST2@\"/$(list_sha "$F2")/g" \
    >"$RGS_TMP/$name.want"
  st=0
  rgs-plan -d "$DD" <"$RGS_TMP/$name.in" >"$RGS_TMP/$name.got" 2>"$RGS_TMP/$name.err" || st=$?
  t_diff "$name: output" "$RGS_TMP/$name.got" "$RGS_TMP/$name.want"
  t_is "$name: exit status" "$st" "$(cat "$cases/$name.status" 2>/dev/null || echo 0)"
  if [ -f "$cases/$name.err" ]; then
    want=$(cat "$cases/$name.err")
    if grep -qF -- "$want" "$RGS_TMP/$name.err"; then ok "$name: stderr"; else notok "$name: stderr"; diag "$(cat "$RGS_TMP/$name.err")"; fi
  fi
done
done_testing
