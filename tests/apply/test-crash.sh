#!/usr/bin/env bash
# kill -9 of rgs-apply at random moments during large batches, then a rerun
# of the batch: the work tree and the state equal those of a clean run, and
# right after each kill every file holds either its old or its new bytes
# (never a mix) and no temporary file is in the tree.  Stage 3 is a batch of
# content changes only (its state goes to state/<relay>/pending/, folded in
# at once past 256 documents or kept with --state-max-pending), and the
# fold itself (rgs-apply --compact) is killed too.  RGS_SEED picks the
# moments (printed on failure).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../plan/wt-lib.sh"
seed=${RGS_SEED:-$$}; RANDOM=$seed
gen() { node "$RGS_ROOT/tests/apply/gen-big.js" "$1" "$R" "$F" "$2"; }

# the clean run, and the bytes a file may hold
C=$RGS_TMP/clean; wt_init "$C"
gen "$C" 1 >"$RGS_TMP/s1" && gen "$C" 2 >"$RGS_TMP/s2" && gen "$C" 3 >"$RGS_TMP/s3"
t0=$(date +%s%N); sync <"$RGS_TMP/s1" >/dev/null; t1=$(date +%s%N)
sync <"$RGS_TMP/s2" >/dev/null; t2=$(date +%s%N)
ms1=$(( (t1 - t0) / 1000000 )); ms2=$(( (t2 - t1) / 1000000 ))
{ jq -r 'select(.type == "doc") | .sha256' "$RGS_TMP/s1" "$RGS_TMP/s2" "$RGS_TMP/s3"
  jq -r 'select(.type == "folder") | .entries[] | .hash // empty' "$RGS_TMP/s1" "$RGS_TMP/s2"; } | sort -u >"$RGS_TMP/legit"
tree "$C/repos/$R/$F" >"$RGS_TMP/clean.tree"; state "$C" >"$RGS_TMP/clean.state"
clean_tree=$(cat "$RGS_TMP/clean.tree")
t_ok "clean run wrote the stage-2 tree" test "$(echo "$clean_tree" | grep -c '^F')" = 350
t2=$(date +%s%N); sync <"$RGS_TMP/s3" >/dev/null; t3=$(date +%s%N)
ms3=$(( (t3 - t2) / 1000000 ))
tree "$C/repos/$R/$F" >"$RGS_TMP/clean3.tree"; state "$C" >"$RGS_TMP/clean3.state"
t_is "clean run: stage 3 rewrote the 310 notes, its 310 state changes folded in" \
  "$(diff "$RGS_TMP/clean.tree" "$RGS_TMP/clean3.tree" | grep -c '^>') $(find "$C/state/$R/pending" -name '*.json' | wc -l)" "310 0"

whole() { # DIR: every file holds legitimate bytes, no temp files
  local bad
  bad=$(cd "$1" && find . -path ./.git -prune -o -type f -print0 | xargs -0r sha256sum | cut -c1-64 | sort -u |
        comm -23 - "$RGS_TMP/legit" | wc -l)
  [ "$bad" = 0 ] && [ -z "$(find "$1" -path "$1/.git" -prune -o -name '.*tmp*' -print)" ]
}

# kill_apply DD SNAP MAXMS [APPLY OPTIONS]: plan, then apply killed after a random delay
kill_apply() {
  rgs-plan -d "$1" <"$2" >"$RGS_TMP/ops" 2>/dev/null
  rgs-apply -d "$1" "${@:4}" <"$RGS_TMP/ops" >/dev/null 2>&1 & local pid=$!
  local ms=$(( RANDOM % ($3 + 1) ))
  sleep "$(printf '0.%03d' "$ms")" 2>/dev/null || sleep 0
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  echo "$ms"
}

for k in 1 2 3 4 5 6; do
  K=$RGS_TMP/k$k; wt_init "$K"; cp -r "$C/cache" "$K/"
  if [ $((k % 3)) = 1 ]; then
    # crash during the first full sync, then during the update
    ms=$(kill_apply "$K" "$RGS_TMP/s1" "$ms1"); whole "$K/repos/$R/$F" && ok "k$k: after kill at ${ms} ms of stage 1: no partial file" || notok "k$k stage 1 partial (seed $seed)"
    sync <"$RGS_TMP/s1" >/dev/null 2>&1
  else
    sync <"$RGS_TMP/s1" >/dev/null 2>&1
  fi
  ms=$(kill_apply "$K" "$RGS_TMP/s2" "$ms2")
  whole "$K/repos/$R/$F" && ok "k$k: after kill at ${ms} ms of stage 2: no partial file" || notok "k$k: stage 2 partial (seed $seed)"
  if [ $((k % 2)) = 0 ]; then   # a second crash before the rerun
    ms=$(kill_apply "$K" "$RGS_TMP/s2" "$ms2"); whole "$K/repos/$R/$F" && ok "k$k: second kill at ${ms} ms: no partial file" || notok "k$k: second kill partial (seed $seed)"
  fi
  sync <"$RGS_TMP/s2" >"$RGS_TMP/rerun.out" 2>/dev/null
  tree "$K/repos/$R/$F" >"$RGS_TMP/k.tree"; state "$K" >"$RGS_TMP/k.state"
  t_diff "k$k: rerun: tree equals the clean run (seed $seed)" "$RGS_TMP/k.tree" "$RGS_TMP/clean.tree"
  t_diff "k$k: rerun: state equals the clean run (seed $seed)" "$RGS_TMP/k.state" "$RGS_TMP/clean.state"
  t_is "k$k: a third run changes nothing" "$(rgs-plan -d "$K" <"$RGS_TMP/s2" | jq -s 'map(select(.type == "op")) | length')" 0
  # stage 3: content changes only; odd k keeps them pending
  opts=(); [ $((k % 2)) = 1 ] && opts=(--state-max-pending 100000)
  ms=$(kill_apply "$K" "$RGS_TMP/s3" "$ms3" "${opts[@]}")
  whole "$K/repos/$R/$F" && ok "k$k: after kill at ${ms} ms of stage 3: no partial file" || notok "k$k: stage 3 partial (seed $seed)"
  # the rerun ends with a tick, as every batch does: past 256 pending changes, they are folded in
  { cat "$RGS_TMP/s3"; printf '{"v":1,"type":"tick","time":1,"final":false}\n'; } |
    rgs-plan -d "$K" | rgs-apply -d "$K" "${opts[@]}" >/dev/null 2>&1
  # (how many stay pending depends on the moment of the kill: a kill between
  # the state files and the index makes the next batch load everything)
  np=$(find "$K/state/$R/pending" -name '*.json' 2>/dev/null | wc -l)
  if ((${#opts[@]})); then t_ok "k$k: stage 3 rerun: at most 310 changes pending ($np)" test "$np" -le 310
  else t_ok "k$k: stage 3 rerun: fewer than 256 changes pending after the tick ($np)" test "$np" -lt 256; fi
  tree "$K/repos/$R/$F" >"$RGS_TMP/k.tree"; state "$K" >"$RGS_TMP/k.state"
  t_diff "k$k: stage 3 rerun: tree equals the clean run (seed $seed)" "$RGS_TMP/k.tree" "$RGS_TMP/clean3.tree"
  t_diff "k$k: stage 3 rerun: state (pending applied) equals the clean run (seed $seed)" "$RGS_TMP/k.state" "$RGS_TMP/clean3.state"
  if ((${#opts[@]})); then   # kill the fold, then fold again
    rgs-apply -d "$K" --compact </dev/null >/dev/null 2>&1 & pid=$!
    ms=$(( RANDOM % 60 )); sleep "$(printf '0.%03d' "$ms")"; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
    state "$K" >"$RGS_TMP/k.state"
    t_diff "k$k: after kill at ${ms} ms of --compact: state equals the clean run (seed $seed)" "$RGS_TMP/k.state" "$RGS_TMP/clean3.state"
    rgs-apply -d "$K" --compact </dev/null
    state "$K" >"$RGS_TMP/k.state"
    t_is "k$k: --compact again: nothing pending, no temporary file left" \
      "$(find "$K/state/$R/pending" -name '*.json' | wc -l) $(find "$K/state" -name '.*tmp*' | wc -l)" "0 0"
    t_diff "k$k: --compact again: the state files equal the clean run's (seed $seed)" "$RGS_TMP/k.state" "$RGS_TMP/clean3.state"
  fi
  t_is "k$k: stage 3 a third time changes nothing" "$(rgs-plan -d "$K" <"$RGS_TMP/s3" | jq -s 'map(select(.type == "op")) | length')" 0
done
done_testing
