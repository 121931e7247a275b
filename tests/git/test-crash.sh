#!/usr/bin/env bash
# kill -9 during commit and during push, then restart: no change lost, git
# fsck clean, no stale lock left by the service, and a lock that another
# process holds is never removed.  Interrupted rebases are recovered.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/gitlib.sh"
cd "$RGS_TMP"
seed=${RGS_SEED:-$RANDOM}; RANDOM=$seed; diag "seed $seed"

D=$RGS_TMP/d1; new_data "$D"
bare_with "$RGS_TMP/r1.git" "README.md=readme"
connector $FOLDER "$RGS_TMP/r1.git" 'prefix = "notes"' >"$D/git_connectors.toml"
rgs-commit -d "$D" --prepare
W=$(repo_of "$D")
N=1500
mkdir -p "$W/notes"
for i in $(seq 1 $N); do echo "note $i" >"$W/notes/n$i.md"; done
# journal them without committing (the interval has not passed)
{ for i in $(seq 1 $N); do applied "notes/n$i.md" write 1000; done; tick 1001; } | rgs-commit -d "$D" >/dev/null 2>&1
t_is "journalled, not yet committed" "$(git -C "$W" rev-list --count HEAD)" 1

# --- kill -9 during the commit, several times at different moments
kills=0
for d in 0.01 0.03 0.06 0.1 0.2 $(printf '0.%02d ' $((RANDOM % 30)) $((RANDOM % 30))); do
  tick 2000 true | rgs-commit -d "$D" >/dev/null 2>&1 &
  pid=$!
  sleep "$d"; kill -9 $pid 2>/dev/null && kills=$((kills+1)); wait $pid 2>/dev/null
  # each interrupted run changes some files again, as the sync would
  echo "edit after kill at $d" >"$W/notes/n7.md"
  applied notes/n7.md write 1500 | rgs-commit -d "$D" >/dev/null 2>&1
done
diag "$kills runs killed"
sleep 2.1   # a lock older than 2 s that nobody holds is stale
tick 3000 true | rgs-commit -d "$D" >out1 2>err1; rc=$?
t_is "restart: exit 0" "$rc" 0
t_is "every note committed" "$(git -C "$W" ls-tree -r --name-only HEAD notes | wc -l)" "$N"
t_is "last edit committed" "$(git -C "$W" show HEAD:notes/n7.md)" "edit after kill at $d"
t_is "and pushed" "$(git -C "$RGS_TMP/r1.git" rev-parse main)" "$(git -C "$W" rev-parse HEAD)"
t_ok "fsck clean (local)" git -C "$W" fsck --no-progress --strict
t_ok "fsck clean (remote)" git -C "$RGS_TMP/r1.git" fsck --no-progress --strict
t_is "no lock file left" "$(find "$W/.git" -name '*.lock' | wc -l)" 0
t_ok "journal consumed" bash -c "! ls '$D/commit/$RELAY/' | grep -q journal"
t_is "work tree clean" "$(git -C "$W" status --porcelain)" ""
t_is "no empty commit among them" "$(git -C "$W" log --format=%H | while read -r c; do [ -n "$(git -C "$W" diff-tree --no-commit-id -r --root "$c")" ] || echo "$c"; done | wc -l)" 0

# --- a lock that another process holds is left alone
echo "locked edit" >"$W/notes/n1.md"
( exec 7>"$W/.git/index.lock"; exec sleep 60 ) &
holder=$!
# go on only once the holder really has it open (a lock file that nobody
# holds yet would rightly be removed as stale); at most 30 s
lockpath=$(readlink -f "$W/.git")/index.lock
for ((i = 0; i < 600; i++)); do [ "$(readlink "/proc/$holder/fd/7" 2>/dev/null)" = "$lockpath" ] && break; sleep 0.05; done
t_is "the other process holds index.lock open" "$(readlink "/proc/$holder/fd/7" 2>/dev/null)" "$lockpath"
touch -d '-1 minute' "$W/.git/index.lock"
{ applied notes/n1.md write 4000; tick 4000 true; } | rgs-commit -d "$D" >out2 2>err2; rc=$?
t_is "index locked by another process: failure reported (exit 1)" "$rc" 1
t_ok "its lock was not removed" test -e "$W/.git/index.lock"
t_ok "message says it is in use" grep -q "in use by another process" err2
t_is "change not committed yet" "$(git -C "$W" show HEAD:notes/n1.md)" "note 1"
kill $holder; wait $holder 2>/dev/null
rm -f "$W/.git/index.lock"      # what that process would have done
tick 4001 true | rgs-commit -d "$D" >out3 2>/dev/null
t_is "then committed (journal kept it)" "$(git -C "$W" show HEAD:notes/n1.md)" "locked edit"

# --- a stale lock (nobody holds it, old) is removed
touch -d '-1 minute' "$W/.git/index.lock" "$W/.git/refs/heads/main.lock"
echo "after stale" >"$W/notes/n2.md"
{ applied notes/n2.md write 5000; tick 5000 true; } | rgs-commit -d "$D" >out4 2>err4
t_is "stale locks removed, commit made" "$(git -C "$W" show HEAD:notes/n2.md)" "after stale"
t_ok "stale removal logged" grep -q "stale (no process has it open); removed" err4

# --- kill -9 during the push
mkdir wrap
cat >wrap/git <<EOS
#!/usr/bin/env bash
real=\$(PATH=${PATH#*:} command -v git)
if [ "\$1" = push ]; then echo \$\$ >"$RGS_TMP/pushing"; sleep 1; fi
exec "\$real" "\$@"
EOS
chmod +x wrap/git
echo "pushed after a kill" >"$W/notes/n3.md"
{ applied notes/n3.md write 6000; tick 6000 true; } | PATH="$RGS_TMP/wrap:$PATH" rgs-commit -d "$D" >out5 2>/dev/null &
pid=$!
for _ in $(seq 600); do [ -e pushing ] && break; sleep 0.05; done
kill -9 $pid; wait $pid 2>/dev/null
t_ok "killed while pushing" test -e pushing
p=$(cat pushing); kill "$p" 2>/dev/null   # the orphaned git push we started
tick 6001 true | rgs-commit -d "$D" >out6 2>/dev/null
t_is "restart pushes it" "$(git -C "$RGS_TMP/r1.git" show main:notes/n3.md)" "pushed after a kill"
t_ok "fsck clean after the killed push" git -C "$RGS_TMP/r1.git" fsck --no-progress --strict

# --- an interrupted rebase (the service was killed during one) is recovered
git clone -q "$RGS_TMP/r1.git" other
echo "remote side" >other/notes/n4.md; git -C other commit -qam remote; git -C other push -q origin main
echo "relay side" >"$W/notes/n4.md"
{ applied notes/n4.md write 7000; tick 7000 true; } >in7
git -C "$W" fetch -q origin
rgs-commit -d "$D" <in7 >out7 2>/dev/null   # commits, push rejected -> rebased and pushed
t_is "diverged: rebased" "$(jq -r 'select(.type=="push") | .result' out7)" rebased
sync_other() { git -C other fetch -q origin && git -C other reset -q --hard origin/main; }
sync_other
echo "relay again" >"$W/notes/n4.md"; echo "remote again" >other/notes/n4.md
git -C other commit -qam remote2; git -C other push -q origin main
{ applied notes/n4.md write 8000; tick 8000 true; } | rgs-commit -d "$D" >/dev/null 2>&1
# leave a conflicting rebase behind, as a kill during one would
echo "relay third" >"$W/notes/n4.md"; git -C "$W" commit -qam "relay third"
sync_other; echo "remote third" >other/notes/n4.md; git -C other commit -qam remote3; git -C other push -q origin main
git -C "$W" fetch -q origin; git -C "$W" rebase origin/main >/dev/null 2>&1
t_ok "a rebase is left in progress" test -d "$W/.git/rebase-merge"
tick 9000 true | rgs-commit -d "$D" >out8 2>err8
t_fails "rebase state recovered" test -d "$W/.git/rebase-merge"
t_is "then rebased and pushed" "$(jq -r 'select(.type=="push") | .result' out8)" rebased
t_is "Relay's version inside the prefix" "$(git -C "$RGS_TMP/r1.git" show main:notes/n4.md)" "relay third"
t_is "linear" "$(git -C "$RGS_TMP/r1.git" rev-list --merges main | wc -l)" 0
t_ok "fsck clean at the end" git -C "$W" fsck --no-progress --strict
done_testing
