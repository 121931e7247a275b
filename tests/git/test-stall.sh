#!/usr/bin/env bash
# A remote that accepts connections and never answers (a TCP blackhole, over
# SSH and over HTTP) costs about --git-stall-timeout, not --git-timeout: the
# other repository's push still lands in the same run, and each stalled
# remote yields a push error record.  No timing assertion: `timeout` only
# bounds the run generously (two stalled remotes at the 120 s --git-timeout
# would need 240 s; with the stall limit they need a few seconds).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/gitlib.sh"
cd "$RGS_TMP"
port=$(free_port)
python3 "$RGS_ROOT/tests/git/blackhole.py" "$port" "$RGS_TMP/bh.log" &
bh=$!
trap 'kill $bh 2>/dev/null; _t_cleanup' EXIT
wait_port "$port" 10 || { notok "blackhole did not start"; done_testing; }
: >"$RGS_TMP/bh.log"
F3=99999999-8888-4777-8666-555555555555

# three repositories cloned from local bare ones; then two of them point
# at the blackhole (URLs are kept current), listed before the good one
D=$RGS_TMP/d; new_data "$D"
for b in a b c; do bare_with "$RGS_TMP/$b.git" "README.md=$b"; done
{ connector $FOLDER "$RGS_TMP/a.git"; connector $FOLDER2 "$RGS_TMP/b.git"; connector $F3 "$RGS_TMP/c.git"; } >"$D/git_connectors.toml"
t_status "prepare" 0 rgs-commit -d "$D" --prepare
{ connector $FOLDER "http://127.0.0.1:$port/a.git"; connector $FOLDER2 "ssh://git@127.0.0.1:$port/b.git"
  connector $F3 "$RGS_TMP/c.git"; } >"$D/git_connectors.toml"
for f in $FOLDER $FOLDER2 $F3; do echo "note $f" >"$(repo_of "$D" $f)/n.md"; done
{ applied n.md write 10 '[]' $FOLDER; applied n.md write 10 '[]' $FOLDER2; applied n.md write 10 '[]' $F3
  tick 99 true; } >in
rc=0; timeout 100 rgs-commit -d "$D" --git-stall-timeout 3 <in >out 2>err || rc=$?
t_ok "the run ended by itself (not killed by the 100 s bound)" test "$rc" != 124
t_is "three commits" "$(count_type out commit)" 3
t_is "the good repository's push landed" "$(count_type out push folder $F3 | head -1)$(jq -r --arg f $F3 'select(.type=="push" and .folder==$f) | .result' out)" "1ok"
t_is "its remote has the commit" "$(git -C "$RGS_TMP/c.git" show main:n.md)" "note $F3"
t_is "stalled HTTP remote: push error record" "$(jq -r --arg f $FOLDER 'select(.type=="push" and .folder==$f) | .result' out)" error
t_is "stalled SSH remote: push error record" "$(jq -r --arg f $FOLDER2 'select(.type=="push" and .folder==$f) | .result' out)" error
t_ok "the blackhole was really contacted (twice or more)" test "$(wc -l <"$RGS_TMP/bh.log")" -ge 2
t_is "status shows the stalled remotes as errors" "$(jq -r --arg a "$RELAY/$FOLDER" --arg b "$RELAY/$FOLDER2" '[.[$a].origin.result, .[$b].origin.result] | join(" ")' "$D/status/push.json")" "error error"

# --- the defaults reach git: 20 s stall limit for SSH and HTTP(S) (spied environment of git)
connector $F3 "$RGS_TMP/c.git" >"$D/git_connectors.toml"   # the stalled ones would cost 20 s each now
spy_on "$RGS_TMP/spy" git
echo "again" >"$(repo_of "$D" $F3)/n.md"
{ applied n.md write 10 '[]' $F3; tick 199 true; } | rgs-commit -d "$D" >out2 2>/dev/null
envf=$(grep -l '^push$' "$RGS_TMP"/spy/git.*.argv | head -1); envf=${envf%.argv}.env
t_ok "default: git push ran (spied)" test -s "$envf"
t_ok "default: GIT_HTTP_LOW_SPEED_TIME=20 and LIMIT=1000" bash -c "grep -qx GIT_HTTP_LOW_SPEED_TIME=20 '$envf' && grep -qx GIT_HTTP_LOW_SPEED_LIMIT=1000 '$envf'"
t_ok "default: ssh ConnectTimeout=20, ServerAliveInterval=10, ServerAliveCountMax=2" \
  bash -c "grep '^GIT_SSH_COMMAND=' '$envf' | grep -q -- '-o ConnectTimeout=20 -o ServerAliveInterval=10 -o ServerAliveCountMax=2'"
kill $bh; wait $bh 2>/dev/null
done_testing
