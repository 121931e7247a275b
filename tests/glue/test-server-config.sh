#!/usr/bin/env bash
# rgs-server and rgs-sync: configuration errors fail at once with a message
# that says what to set; a second server on the same data directory refuses.
. "$(dirname "$0")/../lib.sh"

D=$RGS_TMP/data; mkdir -p "$D"
run() { # expected-status needle cmd...
  local want=$1 needle=$2; shift 2
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" = "$want" ] && grep -qF -- "$needle" <<<"$out"; then ok "$*: exit $want, says '$needle'"
  else notok "$*: exit $want, says '$needle'"; diag "exit $rc"; diag "$out"; fi
}
unset RELAY_SERVER_URL RELAY_SERVER_API_KEY WEBHOOK_SECRET SSH_PRIVATE_KEY
t_ok "rgs-server --help" bash -c 'rgs-server --help | grep -q "Usage: rgs-server"'
t_ok "rgs-sync --help" bash -c 'rgs-sync --help | grep -q "Usage: rgs-sync"'
run 100 "set RELAY_SERVER_URL or pass --relay-server-url" rgs-server --data-dir "$D"
run 100 "must start with http:// or https://" rgs-server --data-dir "$D" --relay-server-url ftp://x
run 100 "bad --port" rgs-server --data-dir "$D" --relay-server-url http://127.0.0.1:9 --port 70000
run 100 "bad --commit-interval" rgs-server --data-dir "$D" --relay-server-url http://127.0.0.1:9 --commit-interval soon
run 100 "unknown option '--frobnicate'" rgs-server --frobnicate
run 100 "needs a value" rgs-server --port
run 100 "bad --bind '300.1.1.1'" rgs-server --data-dir "$D" --relay-server-url http://127.0.0.1:9 --bind 300.1.1.1
run 100 "bad --bind 'example.org:80'" rgs-server --data-dir "$D" --relay-server-url http://127.0.0.1:9 --bind example.org:80
run 100 "bad --unhealthy-after" rgs-server --data-dir "$D" --relay-server-url http://127.0.0.1:9 --unhealthy-after soon
run 100 "bad --settle 'later'" rgs-server --data-dir "$D" --relay-server-url http://127.0.0.1:9 --settle later
run 100 "bad --settle '61'" rgs-server --data-dir "$D" --relay-server-url http://127.0.0.1:9 --settle 61
run 100 "(RGS_SETTLE)" env RGS_SETTLE=-1 rgs-server --data-dir "$D" --relay-server-url http://127.0.0.1:9
run 100 "bad --max-failed-batches" rgs-server --data-dir "$D" --relay-server-url http://127.0.0.1:9 --max-failed-batches -1
# a port that is taken, an address not of this machine: exit 100 at once,
# naming what to change, with either listener; nothing keeps running
busy=$(free_port)
node -e 'require("net").createServer().listen(+process.argv[1], "127.0.0.1", () => console.log("up"))' "$busy" >"$RGS_TMP/busy.ready" &
holder=$!
for ((i = 0; i < 100; i++)); do [ -s "$RGS_TMP/busy.ready" ] && break; sleep 0.05; done
for l in socat rgs-accept; do
  run 100 "choose a free --port (or stop what holds port $busy)" \
    env RELAY_SERVER_URL=http://127.0.0.1:9 rgs-server --data-dir "$RGS_TMP/d-$l" --bind 127.0.0.1 --port "$busy" --listener "$l"
  t_fails "$l: no listener left behind on the taken port" pgrep -f -- "$l.*$busy"
done
kill "$holder"; wait "$holder" 2>/dev/null
run 100 "an address of this machine for --bind" \
  env RELAY_SERVER_URL=http://127.0.0.1:9 rgs-server --data-dir "$RGS_TMP/d-addr" --bind 192.0.2.1 --port "$(free_port)"
printf '[[git_connector]]\nrelay_id = "not-a-uuid"\n' >"$RGS_TMP/bad.toml"
run 100 "bad.toml" rgs-server --data-dir "$D" --relay-server-url http://127.0.0.1:9 --git-config-file "$RGS_TMP/bad.toml"
run 100 "--relay-id is required" rgs-sync --data-dir "$D"
run 100 "is not a UUID" rgs-sync --data-dir "$D" --relay-id ../../etc
RELAY_SERVER_URL=http://127.0.0.1:9 run 100 "does not exist" rgs-sync --relay-id 11111111-2222-3333-4444-555555555555 --data-dir "$RGS_TMP/none"

# a second instance on the same data directory refuses; the first keeps running
p=$(free_port)
RELAY_SERVER_URL=http://127.0.0.1:9 WEBHOOK_SECRET=s3cret rgs-server --data-dir "$D" --port "$p" --bind 127.0.0.1 \
  --listener socat >"$RGS_TMP/first.log" 2>&1 &
first=$!
t_ok "first server listens" wait_port "$p" 15
p2=$(free_port)
run 111 "another rgs-server is running" env RELAY_SERVER_URL=http://127.0.0.1:9 rgs-server --data-dir "$D" --port "$p2"
t_ok "first server still alive" kill -0 "$first"
h=$(curl -s --max-time 5 "http://127.0.0.1:$p/health")
t_ok "first server answers /health" bash -c "jq -e '.status == \"healthy\"' <<<'$h' >/dev/null"
t_ok "secret not in the server's log or command line" bash -c "! grep -q s3cret '$RGS_TMP/first.log' && ! grep -q s3cret /proc/$first/cmdline"
kill -TERM "$first"
rc=0; wait "$first" || rc=$?
t_is "SIGTERM stops the server with status 0" "$rc" 0
t_ok "stop message logged" grep -q "stopping" "$RGS_TMP/first.log"
t_ok "port released after stop" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null"
done_testing
