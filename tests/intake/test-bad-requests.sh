#!/usr/bin/env bash
# A corpus of malformed and hostile requests (tests/intake/make-bad-requests.js):
# each gets its status, by hand on stdin and over TCP through rgs-accept;
# rgs-verify never crashes (under the sanitizers also never leaks: its exit
# status is checked), nothing is spooled, nothing is written outside the
# data directory.  Line rules (RFC 9112 §2.2, §5.2): bare LF and obsolete
# line folding are refused, trailing whitespace of a value is not part of it
# (RFC 9110 §5.5).  Plus a slow client (408) and a body of exactly 1 MiB.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-intake.sh"

export WEBHOOK_SECRET=s3cret-$RANDOM
corpus=$RGS_TMP/corpus
node "$RGS_ROOT/tests/intake/make-bad-requests.js" "$corpus" "$WEBHOOK_SECRET"

dd=$RGS_TMP/data
for f in "$corpus"/*; do
  name=$(basename "$f"); want=${name%%-*}
  rc=0
  rgs-verify -d "$dd" --timeout 5 <"$f" >"$RGS_TMP/resp" 2>>"$RGS_TMP/hand.log" || rc=$?
  got=$(head -1 "$RGS_TMP/resp" | sed -n 's/^HTTP\/1\.1 \([0-9]*\) .*/\1/p')
  if [ "$got" = "$want" ] && [ "$rc" = 0 ]; then ok "stdin: $name"
  else notok "stdin: $name"; diag "status '$got', exit $rc"; fi
  # every error answer is JSON with an "error" string
  if [ "$want" != 200 ]; then
    body=$(sed '1,/^\r$/d' "$RGS_TMP/resp")
    t_is "stdin: $name: JSON error body" "$(printf '%s' "$body" | jq -r 'has("error")' 2>/dev/null)" true
  fi
done
n200=$(ls "$corpus" | grep -c '^200-')   # every 200 case is a webhook
t_is "only the $n200 accepted webhooks were spooled" "$(spooled "$dd")" "$n200"
t_is "nothing written outside the data directory" "$(ls /tmp/pwned 2>/dev/null | wc -l)" 0

start_accept "$RGS_TMP/tcp" --timeout 5 || { notok "rgs-accept starts"; done_testing; }
node "$RGS_ROOT/tests/intake/raw-send.js" "$PORT" "$corpus"/* >"$RGS_TMP/tcp.out"
while read -r name got; do
  t_is "tcp: $name" "$got" "${name%%-*}"
done <"$RGS_TMP/tcp.out"
t_is "tcp: only the $n200 accepted webhooks were spooled" "$(spooled "$RGS_TMP/tcp")" "$n200"

# a slow client: half a request, then silence -> 408 after --timeout
kill "$ACCEPT_PID"; wait "$ACCEPT_PID" 2>/dev/null
start_accept "$RGS_TMP/slow" --timeout 1
exec 3<>/dev/tcp/127.0.0.1/"$PORT"
printf 'POST /webhooks HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n{"pay' >&3
t_is "slow client: 408 after the read deadline" "$(head -1 <&3 | tr -d '\r')" "HTTP/1.1 408 Request Timeout"
exec 3<&-
# a body of exactly 1 MiB passes the limit (and is then judged as JSON)
head -c 1048576 /dev/zero | tr '\0' ' ' >"$RGS_TMP/big"
t_is "1 MiB body: not 413 (400 Invalid JSON payload: it is all spaces)" \
  "$(status_of -H "Authorization: Bearer $WEBHOOK_SECRET" --data-binary @"$RGS_TMP/big" "http://127.0.0.1:$PORT/webhooks")" 400
t_is "1 MiB + 1 byte: 413" \
  "$(printf x | cat "$RGS_TMP/big" - | status_of -H "Authorization: Bearer $WEBHOOK_SECRET" --data-binary @- "http://127.0.0.1:$PORT/webhooks")" 413
kill "$ACCEPT_PID"; wait "$ACCEPT_PID" 2>/dev/null
t_fails "no handler was killed by a signal" grep -q 'killed by signal' "$RGS_TMP/server.log"
done_testing
