#!/usr/bin/env bash
# Supervision of rgs-server's children: never a half-alive service that
# answers 200 and syncs nothing.
#   - the one-line batch summary on stderr has plausible numbers;
#   - kill -9 of rgs-server alone: its listener goes with it;
#   - the listener killed: rgs-server starts a new one, also in the middle
#     of a long batch; the pipeline's stages hold no lock of the data
#     directory (a git child that outlives rgs-server must not block the
#     next one);
#   - a pipeline stage that fails every batch (an RGS_BINDIR whose rgs-plan
#     exits 101): /health turns "unhealthy" with 503, and the service exits
#     101 with a clear message after --max-failed-batches over
#     --max-failing-time.
# A small copy of the sample vault and a local bare remote keep it short.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2elib.sh"
cd "$RGS_TMP"
COMMIT_INTERVAL=1
PORT=$(free_port)

src=$VAULT
VAULT=$RGS_TMP/vault
mkdir -p "$VAULT/Teams" "$VAULT/Attachments"
cp "$src/Startseite.md" "$src/Hilfe und Support.md" "$VAULT/"
cp "$(find "$src/Teams" -name '*.md' | head -1)" "$VAULT/Teams/"
cp "$src/Attachments/Engelbart.jpg" "$VAULT/Attachments/"
nfiles=$(find "$VAULT" -type f | wc -l)

setup_remote "$RGS_TMP/remote.git"
start_standin
health() { curl -s --max-time 5 -o "$RGS_TMP/health.json" -w '%{http_code}' "http://127.0.0.1:$PORT/health"; }
# listener_of PID: the listener process (socat or rgs-accept) started by rgs-server PID
listener_of() { pgrep -P "$1" -x socat || pgrep -P "$1" -x rgs-accept; }
gone_within() { # PID SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}
# listener_replaced: kill -9 the listener of rgs-server $SERVER_PID; 0 when
# a new one runs within 5 s
listener_replaced() {
  local old new i
  old=$(listener_of "$SERVER_PID")
  kill -9 "$old"
  for ((i = 0; i < 50; i++)); do
    new=$(listener_of "$SERVER_PID"); [ -n "$new" ] && [ "$new" != "$old" ] && return 0; sleep 0.1
  done
  return 1
}
# bin_with DIR STAGE: DIR holds every tool of $RGS_BIN, but STAGE is the
# script read from stdin
bin_with() {
  mkdir -p "$1"
  for f in "$RGS_BIN"/*; do ln -s "$f" "$1/"; done
  rm -f "$1/$2"; cat >"$1/$2"; chmod +x "$1/$2"
}

# --- a working service: the summary line per batch
t_ok "server starts" start_server
t_ok "first sync (startup reconcile) reaches the remote" wait_remote_change 0 60
before=$(remote_commits)
edit alice '{"op":"type","path":"/Startseite.md","pos":"end","text":"\nVon der Überwachung getippt.\n"}'
t_ok "a live edit becomes a commit" wait_remote_change "$before" 30
sleep 2
code=$(health)
t_is "/health of a working service: 200" "$code" 200
jq -e '.status == "healthy" and .worker.failed_batches == 0' "$RGS_TMP/health.json" >/dev/null
t_is "/health of a working service: healthy, no failed batches" "$?" 0

re='batch ([0-9]+): ([0-9]+) events, ([0-9]+) reconciles, ([0-9]+) files changed, ([0-9]+) commits, ([0-9]+) pushes, ([0-9]+) push failures, ([0-9]+) failed'
ev=0 rc=0 ch=0 cm=0 po=0 pf=0 fa=0 lines=0 evbatch=0
while IFS= read -r l; do
  [[ $l =~ $re ]] || continue
  lines=$((lines + 1))
  ev=$((ev + BASH_REMATCH[2])) rc=$((rc + BASH_REMATCH[3])) ch=$((ch + BASH_REMATCH[4]))
  cm=$((cm + BASH_REMATCH[5])) po=$((po + BASH_REMATCH[6])) pf=$((pf + BASH_REMATCH[7])) fa=$((fa + BASH_REMATCH[8]))
  [ "${BASH_REMATCH[2]}" -gt 0 ] && [ "${BASH_REMATCH[4]}" -gt 0 ] && evbatch=1
done < <(grep '^rgs-server: info: batch ' "$RGS_TMP/server.log")
t_ok "summary lines on stderr" test "$lines" -ge 2
t_ok "summary: the startup reconcile is counted" test "$rc" -ge 1
t_ok "summary: files changed cover the vault ($nfiles files) and the edit" test "$ch" -ge $((nfiles + 1))
t_ok "summary: a batch with webhook events changed a file" test "$evbatch" = 1
t_ok "summary: events counted (at least the edit's webhook)" test "$ev" -ge 1
t_is "summary: commits equal the remote's commit count" "$cm" "$(remote_commits)"
t_ok "summary: pushes counted, as many as commits at most" bash -c "[ $po -ge 1 ] && [ $po -le $cm ]"
t_is "summary: no push failures, no failed records" "$pf/$fa" "0/0"
[ "$lines" -ge 2 ] || sed 's/^/# /' "$RGS_TMP/server.log" | tail -20

# --- kill -9 of rgs-server alone: the listener must not live on
L=$(listener_of "$SERVER_PID")
t_ok "the listener runs as a child of rgs-server" test -n "$L"
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
t_ok "kill -9 of rgs-server alone: the listener is gone within 5 s" gone_within "${L:-0}" 5
t_fails "nothing answers on the port any more" curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$PORT/health"
kill9_server   # the rest of the group (a batch's stages), if any

# --- the listener killed: rgs-server starts a new one
: >"$RGS_TMP/server.log"
t_ok "server restarts on the same data directory" start_server
# past its start-up check (a listener dying before it is a start-up error)
for ((i = 0; i < 100; i++)); do grep -q "info: listening on" "$RGS_TMP/server.log" && break; sleep 0.1; done
t_ok "a killed listener is replaced within 5 s" listener_replaced
t_ok "the new listener answers" wait_port "$PORT" 10
t_ok "the restart is logged" grep -q "listener exited (status .*); restarting it" "$RGS_TMP/server.log"
kill -TERM "$SERVER_PID"; st=0; wait "$SERVER_PID" || st=$?
t_is "SIGTERM still stops it with status 0" "$st" 0
SERVER_PGID=""

# --- the listener killed while a long batch runs (a first sync can take
# minutes): replaced at once, not after the batch.  An RGS_BINDIR whose
# rgs-plan notes the descriptors it inherited, then takes 15 s.
slow=$RGS_TMP/slowbin
printf '#!/bin/sh\nfor fd in /proc/$$/fd/*; do readlink "$fd"; done >"%s.tmp"\nmv "%s.tmp" "%s"\nsleep 15\nexec "%s" "$@"\n' \
  "$RGS_TMP/plan.fds" "$RGS_TMP/plan.fds" "$RGS_TMP/plan.fds" "$RGS_BIN/rgs-plan" | bin_with "$slow" rgs-plan
rm -f "$RGS_TMP/plan.fds"
: >"$RGS_TMP/server.log"
RGS_BINDIR=$slow t_ok "server with a slow rgs-plan starts" start_server
for ((i = 0; i < 300; i++)); do [ -s "$RGS_TMP/plan.fds" ] && break; sleep 0.1; done
t_ok "the slow batch is running" test -s "$RGS_TMP/plan.fds"
t_fails "no pipeline stage inherits a lock of the data directory" grep -E '/locks/|\.batch\.fifo' "$RGS_TMP/plan.fds"
t_ok "a listener killed during a batch is replaced within 5 s" listener_replaced
t_ok "... while that batch still runs" bash -c "pgrep -f -- '$slow/rgs-plan' >/dev/null"
t_ok "... and the new listener answers" wait_port "$PORT" 10
kill -TERM "$SERVER_PID"; st=0; wait "$SERVER_PID" || st=$?
t_is "SIGTERM during the batch: it finishes and the service stops with status 0" "$st" 0
t_ok "... through its final batch (logged)" grep -q "^rgs-server: info: stopping: listener down, final batch" "$RGS_TMP/server.log"
t_is "... and the listener it stopped for the final batch stays down (one restart logged, the one above)" \
  "$(grep -c "listener exited (status .*); restarting it" "$RGS_TMP/server.log")" 1
SERVER_PGID=""

# --- a stage that fails every batch
bad=$RGS_TMP/badbin
bin_with "$bad" rgs-plan <<'EOF'
#!/bin/sh
cat >/dev/null
echo "rgs-plan: error: simulated internal error" >&2
exit 101
EOF
: >"$RGS_TMP/server.log"
# unhealthy 6 s after the start without a success (batches fail at about
# 0, 1, 3, 7, 15 s: backoff), so "degraded" is visible in between even when
# start-up is slow; it gives up at the first failed batch past 10 s
RGS_BINDIR=$bad start_server --unhealthy-after 6 --max-failed-batches 3 --max-failing-time 10
L=$(listener_of "$SERVER_PID")
code="" seen=""
for ((i = 0; i < 300; i++)); do
  code=$(health)
  seen="$seen $(jq -r .status "$RGS_TMP/health.json" 2>/dev/null)"
  [ "$code" = 503 ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
t_is "a stage failing every batch: /health answers 503" "$code" 503
jq -e '.status == "unhealthy" and .worker.state == "failed" and .worker.failed_batches >= 1' "$RGS_TMP/health.json" >/dev/null
t_is "... with status unhealthy and the failed batches counted" "$?" 0
t_ok "... after \"degraded\" while the failures were recent" grep -qw degraded <<<"$seen"
st=0
for ((i = 0; i < 600; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SERVER_PID" || st=$?
t_is "the service gives up with status 101" "$st" 101
t_ok "the reason is logged" grep -q "giving up: [0-9]* batches in a row failed" "$RGS_TMP/server.log"
t_ok "the stage's failure is named" grep -q "stage rgs-plan exited with status 101" "$RGS_TMP/server.log"
t_ok "its listener is gone too" gone_within "${L:-0}" 5
SERVER_PGID=""
done_testing
