#!/usr/bin/env bash
# kill -9 of the whole service (server, listener, every pipeline stage) at a
# random moment in a burst of edits by two users, twice; restart; the remote
# ends identical to Relay, no edit lost, the repository sound (git fsck), no
# stale lock, the spool drained.  Webhooks sent while the service was down
# are lost, as with Relay (no retries): the start-up reconcile heals that.
# The server runs with --listener rgs-accept here (test-e2e-live: socat).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2elib.sh"
[ -x /usr/sbin/sshd ] || { skip "no sshd (openssh-server)"; done_testing; }
cd "$RGS_TMP"
COMMIT_INTERVAL=1
PORT=$(free_port)
seed=${RGS_SEED:-$$}
RANDOM=$seed
diag "seed $seed"

start_sshd
setup_remote "ssh://$(id -un)@127.0.0.1:$SSH_PORT$RGS_TMP/remote.git"
start_standin
start_server --listener rgs-accept
t_ok "first sync" wait_remote_change 0 120
t_ok "quiet after the first sync" wait_quiet 120

notes=("/Startseite.md" "/Hilfe und Support.md" "/Obsidian Sync/Headless Sync.md" "/Teams/Sync für Teams.md")
burst() { # round: 60 edits, alternating users, typed markers and deletions
  local i u p
  for ((i = 0; i < 60; i++)); do
    u=alice; [ $((i % 2)) = 1 ] && u=bob
    p=${notes[$((i % ${#notes[@]}))]}
    if [ $((i % 7)) = 6 ]; then
      edit "$u" "$(jq -cn --arg p "$p" '{op:"erase",path:$p,pos:0,len:3}')" || return 1
    else
      edit "$u" "$(jq -cn --arg p "$p" --arg t "[r$1 e$i $u]" '{op:"type",path:$p,pos:"end",text:$t}')" || return 1
    fi
    sleep 0.0$((RANDOM % 5))
  done
}
for round in 1 2; do
  burst "$round" >burst$round.log 2>&1 &
  bp=$!
  sleep "$((RANDOM % 3)).$((RANDOM % 10))"
  kill9_server
  ok "round $round: kill -9 of the whole service in the burst"
  # SIGKILL takes effect when a process leaves the kernel: one in fdatasync
  # on a busy disk may linger a moment.  Nothing may outlive 30 s.
  for ((i = 0; i < 300; i++)); do
    pgrep -f "rgs-(verify|queue|fetch|plan|apply|commit|accept)" -a | grep -F -- "$DATA" >alive.txt
    [ -s alive.txt ] || break
    [ "$i" = 0 ] && sed "s/^/# first look: /" alive.txt
    sleep 0.1
  done
  t_ok "round $round: nothing of the service survives" test ! -s alive.txt
  sed 's/^/# alive: /' alive.txt
  wait "$bp"; t_is "round $round: the burst finished in Relay" "$?" 0
  start_server --listener rgs-accept
  t_ok "round $round: service back" wait_port "$PORT" 20
  t_ok "round $round: settles" wait_quiet 180
  remote_equals_relay "round $round: the remote equals Relay byte for byte (no edit lost)"
done
W=$DATA/repos/$E2E_RELAY/$E2E_FOLDER
t_ok "git fsck of the work repository" git -C "$W" fsck --no-progress --strict
t_ok "git fsck of the remote" git --git-dir="$REMOTE" fsck --no-progress --strict
t_is "no lock file left in the repository" "$(find "$W/.git" -name '*.lock' | wc -l)" 0
t_is "spool drained" "$(spool_depth)" 0
# Failed for good: nothing, except what lib/rgs_spool.h documents for a
# kill: a writer (rgs-verify) killed in the middle of its append leaves a
# torn line of a webhook it never answered, which the consumer moves to
# failed/<name> with failed/<name>.reason "not JSON (a torn write ...".
# Writers append under an exclusive flock(2), so each kill tears at most one
# line.  Any other entry (another reason, or an entry without one) fails.
torn=0 other=0
if [ -d "$DATA/spool/failed" ]; then
  while IFS= read -r f; do
    b=${f##*/}
    case $b in
      *.reason) x=${b%.reason} ;;
      .*.reason.tmp.*) x=${b#.}; x=${x%%.reason.tmp.*} ;; # rgs_write_atomic's temp file of a reason
      *) x=$b ;;
    esac
    if head -1 "$DATA/spool/failed/$x.reason" 2>/dev/null | grep -q '^not JSON (a torn write'; then
      [ "$b" = "$x.reason" ] && { torn=$((torn + 1)); diag "torn write of an unanswered webhook (ignored): $x: $(head -c 200 "$DATA/spool/failed/$x" 2>/dev/null | tr -c '[:print:]' '?')"; }
    else
      other=$((other + 1)); diag "failed for good: $b: $(head -c 300 "$f" | tr -c '[:print:]' '?')"
    fi
  done < <(find "$DATA/spool/failed" -type f | LC_ALL=C sort)
fi
t_is "nothing failed for good (torn writes at the kills aside)" "$other" 0
t_ok "at most one torn write per kill ($torn)" test "$torn" -le 2
t_is "history is linear (no merges)" "$(git --git-dir="$REMOTE" rev-list --merges main | wc -l)" 0
t_ok "every round's last marker is on the remote" bash -c \
  "git --git-dir='$REMOTE' show 'main:Startseite.md' | grep -q 'r2 e56 alice'"
done_testing
