#!/usr/bin/env bash
# Relay down for a minute (requests hang, then fail with 503, then the
# connection drops) while users edit, then back: every edit arrives.  The
# remote (sshd) down while users edit, then back: the commits made meanwhile
# arrive, in order, history linear, nothing force-pushed.  /health tells.
#   RGS_E2E_OUTAGE  seconds Relay stays down (default 60)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2elib.sh"
[ -x /usr/sbin/sshd ] || { skip "no sshd (openssh-server)"; done_testing; }
cd "$RGS_TMP"
COMMIT_INTERVAL=1
PORT=$(free_port)
outage=${RGS_E2E_OUTAGE:-60}

start_sshd
setup_remote "ssh://$(id -un)@127.0.0.1:$SSH_PORT$RGS_TMP/remote.git"
start_standin
start_server
t_ok "first sync" wait_remote_change 0 120
t_ok "quiet" wait_quiet 120
health() { curl -fsS --max-time 5 "http://127.0.0.1:$PORT/health"; }

# --- Relay down
third=$((outage / 3))
control fail '{"clear":true,"rules":[{"match":"(as-update|download-url)","action":"hang","count":-1}]}' >/dev/null
t0=$(date +%s)
edit alice '{"op":"type","path":"/Startseite.md","pos":"end","text":"\nWährend Relay hängt.\n"}'
sleep "$third"
control fail '{"clear":true,"rules":[{"match":"(as-update|download-url)","action":"status","status":503,"count":-1}]}' >/dev/null
edit bob '{"op":"rename","from":"/Hilfe und Support.md","to":"/Hilfe (offline umbenannt).md"}'
sleep "$third"
control fail '{"clear":true,"rules":[{"match":"(as-update|download-url)","action":"drop","count":-1}]}' >/dev/null
edit alice '{"op":"type","path":"/Startseite.md","pos":"end","text":"Während Relay nicht antwortet.\n"}'
h=$(health)
t_ok "during the outage /health still answers and shows the waiting webhooks" \
  jq -e '.status == "healthy" and (.spool_depth // .spool.depth // 0) > 0' <<<"$h"
sleep $((outage - 2 * third))
t_ok "the webhooks were all acknowledged during the outage" bash -c \
  "[ \"\$(curl -fsS '$RELAY_URL/_control/stats' | jq .webhooks_failed)\" = 0 ]"
t_ok "the service was not taken down by the outage" kill -0 "$SERVER_PID"
control fail '{"clear":true}' >/dev/null
diag "Relay was down for $(( $(date +%s) - t0 )) s"
t_ok "after Relay is back, everything arrives (within backoff + a reconcile)" wait_quiet 240
remote_equals_relay "after the Relay outage, the remote equals Relay"

# --- remote down
stop_sshd
before=$(git -C "$DATA/repos/$E2E_RELAY/$E2E_FOLDER" rev-list --count HEAD)
for i in 1 2 3; do
  edit bob "$(jq -cn --arg t "Offline-Commit $i. " '{op:"type",path:"/Startseite.md",pos:0,text:$t}')"
  sleep $((COMMIT_INTERVAL + 2))
done
after=$(git -C "$DATA/repos/$E2E_RELAY/$E2E_FOLDER" rev-list --count HEAD)
t_ok "commits are made while the remote is down" test "$after" -gt "$before"
t_ok "/health shows the failing push" bash -c "curl -fsS --max-time 5 http://127.0.0.1:$PORT/health | grep -qE '\"(error|rejected)\"'"
remote_before=$(git --git-dir="$REMOTE" rev-parse main)
start_sshd
t_ok "after the remote is back, the commits arrive" wait_quiet 180
remote_equals_relay "after the remote outage, the remote equals Relay"
t_ok "the remote's old head is an ancestor of the new one (no force push)" \
  git --git-dir="$REMOTE" merge-base --is-ancestor "$remote_before" main
t_is "history is linear" "$(git --git-dir="$REMOTE" rev-list --merges main | wc -l)" 0
t_ok "offline commits arrive in order" bash -c \
  "git --git-dir='$REMOTE' show main:Startseite.md | head -1 | grep -q '^Offline-Commit 3. Offline-Commit 2. Offline-Commit 1. '"
t_ok "the service kept running throughout" kill -0 "$SERVER_PID"
done_testing
