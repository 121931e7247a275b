#!/usr/bin/env bash
# rgs-accept alone: port 0 printed, the peer in the environment, socket on
# stdin and stdout, the concurrency limit, reaping, graceful SIGTERM, usage
# and bind errors.
. "$(dirname "$0")/../lib.sh"
# poll SECONDS CMD...: until CMD succeeds, every 0.05 s, at most SECONDS
poll() { local t=$1 i=0; shift
  until "$@"; do i=$((i+1)); [ $i -ge $((t*20)) ] && return 1; sleep 0.05; done; }
# no_children PID: PID has no child process left (running or zombie)
no_children() { [ -z "$(ps -o pid= --ppid "$1")" ]; }

# a handler that reports its environment and echoes one line back
cat >"$RGS_TMP/h.sh" <<'H'
#!/bin/sh
read -r line
echo "ip=$TCPREMOTEIP port=$TCPREMOTEPORT local=$TCPLOCALIP:$TCPLOCALPORT proto=$PROTO got=$line"
H
chmod +x "$RGS_TMP/h.sh"

rgs-accept 127.0.0.1 0 "$RGS_TMP/h.sh" >"$RGS_TMP/port" 2>"$RGS_TMP/log" &
pid=$!
poll 30 test -s "$RGS_TMP/port"
port=$(cat "$RGS_TMP/port")
t_ok "port 0: the chosen port is printed" test "$port" -gt 0
out=$(echo hello | socat -t5 - TCP:127.0.0.1:"$port",sourceport=0)
t_ok "handler got the line on stdin and answered on stdout" grep -q 'got=hello' <<<"$out"
t_ok "TCPREMOTEIP is the peer" grep -q 'ip=127.0.0.1 ' <<<"$out"
t_ok "TCPREMOTEPORT is a port" grep -Eq 'port=[0-9]+ ' <<<"$out"
t_ok "TCPLOCALPORT is ours, PROTO=TCP" grep -q "local=127.0.0.1:$port proto=TCP" <<<"$out"
# a client's own port matches TCPREMOTEPORT (independent: socat binds it).
# The port is outside the ephemeral range (where connect(2) and free_port
# pick theirs); should it be taken anyway, socat cannot bind, nothing
# reaches the handler, and another port is tried (5 at most).
read -r elo ehi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || { elo=32768 ehi=60999; }
for try in 1 2 3 4 5; do
  if [ "$elo" -gt 11024 ]; then cport=$((elo - 10000 + RANDOM % 10000))
  else cport=$((ehi + 1 + RANDOM % (65535 - ehi))); fi
  out=$(echo x | socat -t5 - TCP:127.0.0.1:"$port",sourceport="$cport",reuseaddr 2>"$RGS_TMP/cport.err")
  [ -n "$out" ] && break
  diag "source port $cport: no answer ($(head -c 200 "$RGS_TMP/cport.err")); another port"
done
t_ok "TCPREMOTEPORT equals the client's source port" grep -q "port=$cport " <<<"$out"
# the handlers have answered and exit: wait until rgs-accept reaped them
poll 10 no_children "$pid"
t_is "children reaped (no zombies)" "$(ps -o stat= --ppid "$pid" | grep -c Z)" 0
kill -TERM "$pid"; wait "$pid"; rc=$?
t_is "SIGTERM with nothing running: exit 0" "$rc" 0
t_ok "listener closed after SIGTERM" sh -c "! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null"

# concurrency limit 2: a third connection waits until one finishes
cat >"$RGS_TMP/slow.sh" <<'H'
#!/bin/sh
echo "start $(date +%s.%N)"
read -r line
echo "end"
H
chmod +x "$RGS_TMP/slow.sh"
rgs-accept -c 2 127.0.0.1 0 "$RGS_TMP/slow.sh" >"$RGS_TMP/port2" 2>>"$RGS_TMP/log" &
pid=$!
poll 30 test -s "$RGS_TMP/port2"
port=$(cat "$RGS_TMP/port2")
exec 4<>/dev/tcp/127.0.0.1/"$port" 5<>/dev/tcp/127.0.0.1/"$port" 6<>/dev/tcp/127.0.0.1/"$port"
read -r -t 30 a <&4; read -r -t 30 b <&5
t_ok "first two connections are served" test "${a%% *}" = start -a "${b%% *}" = start
c=""; read -r -t 1 c <&6
t_is "the third waits while two run" "$c" ""
echo done >&4; read -r -t 30 a <&4
t_is "first connection finishes" "$a" end
c=""; read -r -t 30 c <&6
t_is "then the third is served" "${c%% *}" start
t_ok "at most 2 handlers at once" test "$(pgrep -c -P "$pid")" -le 2

# graceful stop: SIGTERM while a connection runs; it may finish
kill -TERM "$pid"
sleep 0.3
t_ok "after SIGTERM the running connection continues" kill -0 "$pid"
echo done >&5; read -r -t 30 b <&5
t_is "running connection completes its exchange" "$b" end
echo done >&6; read -r -t 30 c <&6
exec 4>&- 5>&- 6>&-
wait "$pid"; rc=$?
t_is "exit 0 once the connections ended" "$rc" 0

# the grace period ends: stuck handlers get SIGTERM
rgs-accept -g 0.5 127.0.0.1 0 sleep 60 >"$RGS_TMP/port3" 2>>"$RGS_TMP/log" &
pid=$!
poll 30 test -s "$RGS_TMP/port3"
exec 7<>/dev/tcp/127.0.0.1/"$(cat "$RGS_TMP/port3")"
# SIGTERM only once the handler runs (exec'd as sleep), else nothing is stuck
sleep_runs() { pgrep -P "$1" -x sleep >/dev/null; }
t_ok "the handler runs" poll 30 sleep_runs "$pid"
kill -TERM "$pid"; wait "$pid"; rc=$?
t_is "stuck handler terminated after the grace period, exit 0" "$rc" 0
t_ok "the log says it sent SIGTERM" grep -q "still running after" "$RGS_TMP/log"
exec 7>&-

t_status "no arguments: exit 100" 100 sh -c 'rgs-accept 2>/dev/null'
t_status "bad --max-connections: exit 100" 100 sh -c 'rgs-accept -c 0 127.0.0.1 0 true 2>/dev/null'
rgs-accept 127.0.0.1 0 true >"$RGS_TMP/port4" 2>/dev/null &
pid=$!
poll 30 test -s "$RGS_TMP/port4"
t_status "port in use: exit 111" 111 sh -c "rgs-accept 127.0.0.1 $(cat "$RGS_TMP/port4") true 2>/dev/null"
kill "$pid"; wait "$pid" 2>/dev/null
t_ok "--help" sh -c 'rgs-accept --help | grep -q "^Usage: rgs-accept"'
done_testing
