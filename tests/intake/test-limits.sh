#!/usr/bin/env bash
# One client must not hold every webhook slot (security review): per
# connection at most --max-requests requests and --max-lifetime seconds
# (rgs-verify, behind rgs-accept and socat); at most --max-per-peer
# connections per peer address (rgs-accept); near --max-connections idle
# keep-alive connections are closed after --busy-idle-timeout and answers
# close their connection (rgs-accept's pressure pipe).  Then the attack
# itself: a client holding every slot with GET /health every 200 ms, while
# a webhook (curl, 5 s like Relay Server's timeout) must still get its 200.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-intake.sh"

SECRET=s3cret-$RANDOM
export WEBHOOK_SECRET=$SECRET
hook() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $SECRET" -d "$(body)" "$@"; }
stop_accept() { kill "$ACCEPT_PID" 2>/dev/null; wait "$ACCEPT_PID" 2>/dev/null; }
# connects URL...: how many connections curl opened for the requests
connects() { curl -s -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\n' "$@" | paste -sd+ | bc; }

# --- per connection: requests and lifetime (rgs-verify) ---------------------------
accept_on "$RGS_TMP/a" -v -- --max-requests 3
u=http://127.0.0.1:$PORT/health
t_is "--max-requests 3: five requests need two connections" "$(connects "$u" "$u" "$u" "$u" "$u")" 2
printf 'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n' |
  timeout 10 socat -t 5 - TCP:127.0.0.1:"$PORT" >"$RGS_TMP/three" 2>/dev/null
t_is "--max-requests 3: three answers to four pipelined requests" "$(grep -ao 'HTTP/1.1 200' "$RGS_TMP/three" | wc -l)" 3
t_is "--max-requests 3: the third says Connection: close" \
  "$(grep -a '^Connection:' "$RGS_TMP/three" | tr -d '\r' | paste -sd,)" "Connection: keep-alive,Connection: keep-alive,Connection: close"
stop_accept

accept_on "$RGS_TMP/a" -v -- --max-lifetime 1 --idle-timeout 60
exec 3<>/dev/tcp/127.0.0.1/"$PORT"
printf 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n' >&3
st=0; timeout 10 cat <&3 >"$RGS_TMP/life" || st=$?
t_is "--max-lifetime 1: an idle keep-alive connection is closed at its end (60 s idle allowed)" "$st" 0
t_ok "--max-lifetime 1: its answer came first" grep -aq '^HTTP/1.1 200' "$RGS_TMP/life"
exec 3<&-
stop_accept

start_socat "$RGS_TMP/s" --max-requests 2
u=http://127.0.0.1:$PORT/health
t_is "socat + rgs-verify --max-requests 2: four requests need two connections" "$(connects "$u" "$u" "$u" "$u")" 2
kill "$SOCAT_PID"; wait "$SOCAT_PID" 2>/dev/null

# --- per peer (rgs-accept) -------------------------------------------------------------
cat >"$RGS_TMP/slow.sh" <<'H'
#!/bin/sh
echo "start $TCPREMOTEIP"
read -r line
echo "end"
H
chmod +x "$RGS_TMP/slow.sh"
rgs-accept -p 2 127.0.0.1 0 "$RGS_TMP/slow.sh" >"$RGS_TMP/pp" 2>>"$RGS_TMP/server.log" &
pid=$!
i=0; while [ ! -s "$RGS_TMP/pp" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
port=$(cat "$RGS_TMP/pp")
exec 4<>/dev/tcp/127.0.0.1/"$port"; read -r -t 30 a <&4
exec 5<>/dev/tcp/127.0.0.1/"$port"; read -r -t 30 b <&5
t_is "--max-per-peer 2: two connections from 127.0.0.1 are served" "$a|$b" "start 127.0.0.1|start 127.0.0.1"
st=0; out=$(timeout 20 socat -t 5 - TCP:127.0.0.1:"$port" </dev/null) || st=$?
t_is "--max-per-peer 2: a third from 127.0.0.1 is closed at once, nothing run" "$st:$out" "0:"
out=$(echo bye | timeout 20 socat -t 5 - TCP:127.0.0.1:"$port",bind=127.0.0.2 2>/dev/null | head -1)
t_is "--max-per-peer 2: another peer (127.0.0.2) is served" "$out" "start 127.0.0.2"
echo done >&4; read -r -t 30 a <&4; exec 4>&-
# once rgs-accept has reaped that handler (and the 127.0.0.2 one), only the
# one on fd 5 is left: wait for that (at most 10 s) instead of a fixed 0.3 s.
# A slot that is never given back still makes the next check fail.
for ((i = 0; i < 200; i++)); do [ "$(ps -o pid= --ppid "$pid" | wc -l)" -le 1 ] && break; sleep 0.05; done
out=$(echo bye | timeout 20 socat -t 5 - TCP:127.0.0.1:"$port" 2>/dev/null | head -1)
t_is "--max-per-peer 2: once one ended, 127.0.0.1 is served again" "$out" "start 127.0.0.1"
t_ok "the refusal is logged with the peer" grep -q "rgs-accept: warning: peer '127.0.0.1': 2 connections already" "$RGS_TMP/server.log"
echo done >&5; exec 5>&-
kill "$pid"; wait "$pid" 2>/dev/null
t_status "bad --max-per-peer: exit 100" 100 sh -c 'rgs-accept -p x 127.0.0.1 0 true 2>/dev/null'

# --- near the limit: idle keep-alive connections close early -----------------------------------------------
# -c 4: busy from 3 connections (3/4); idle timeout 60 s, busy idle 1 s (default)
accept_on "$RGS_TMP/b" -v -c 4 -- --idle-timeout 60
for fd in 4 5; do
  eval "exec $fd<>/dev/tcp/127.0.0.1/$PORT"
  printf 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n' >&$fd
done
st=0; timeout 2 cat <&4 >/dev/null || st=$?
t_is "two of four slots in use: an idle keep-alive connection stays open" "$st" 124
exec 6<>/dev/tcp/127.0.0.1/"$PORT"
printf 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n' >&6
st=0; timeout 20 cat <&4 >/dev/null || st=$?
st5=0; timeout 20 cat <&5 >/dev/null || st5=$?
t_is "three of four (busy): the idle ones are closed, well before 60 s" "$st $st5" "0 0"
exec 4<&- 5<&- 6<&-
stop_accept
t_status "bad --busy-at: exit 100" 100 sh -c 'rgs-accept -B -1 127.0.0.1 0 true 2>/dev/null'

# --- the attack: one client holds every slot ---------------------------------------------------------------------------------
# 8 slots (the per-peer limit, 32 by default, does not bite: only the
# shedding is at work): the hog's 8 connections ask GET /health every
# 200 ms and reconnect when closed.  Before the fix they held every slot
# for ever and the webhook timed out.
accept_on "$RGS_TMP/c" -v -c 8
node "$RGS_ROOT/tests/intake/hog-client.js" "$PORT" 8 200 8 >"$RGS_TMP/hog1" &
hog=$!
sleep 2
t_is "every slot held by one client: a webhook still gets 200 within 5 s" "$(hook "http://127.0.0.1:$PORT/webhooks")" 200
t_is "and one more" "$(hook "http://127.0.0.1:$PORT/webhooks")" 200
wait "$hog"
t_ok "the hog was answered too (it is served, just not for ever)" sh -c "jq -e '.answered > 0' '$RGS_TMP/hog1' >/dev/null"
stop_accept
t_is "both webhooks spooled" "$(spooled "$RGS_TMP/c")" 2

# the default per-peer limit: one address gets at most 4 of 8 slots here
accept_on "$RGS_TMP/d" -v -c 8 -p 4
node "$RGS_ROOT/tests/intake/hog-client.js" "$PORT" 8 200 6 >"$RGS_TMP/hog2" &
hog=$!
sleep 2
t_is "per-peer limit: a webhook from another address gets 200 within 5 s" \
  "$(hook --interface 127.0.0.2 "http://127.0.0.1:$PORT/webhooks")" 200
t_ok "per-peer limit: the hog's extra connections were refused" grep -q "warning: peer '127.0.0.1': 4 connections already" "$RGS_TMP/server.log"
wait "$hog"
stop_accept
t_fails "no handler was killed by a signal" grep -q 'killed by signal' "$RGS_TMP/server.log"
done_testing
