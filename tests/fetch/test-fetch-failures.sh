#!/usr/bin/env bash
# rgs-fetch when Relay misbehaves (the stand-in fails on purpose): retries
# with backoff then a temporary failure; time-outs; dropped and truncated
# connections; permanent failures for 401/403/404, malformed updates and
# attachments whose bytes do not match their hash; limits; https kept; the
# API key never printed.
. "$(dirname "$0")/../lib.sh"
. "$RGS_ROOT/tests/standin/lib.sh"
REL=7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d
FOL=1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9
KEY=sEcReT-key-4711
standin_start si --vault "$VAULT" --relay $REL --folder $FOL --token $KEY || { notok "stand-in"; done_testing; }
D=$RGS_TMP/data
mkdir -p "$D"
export RELAY_SERVER_URL=$SI_URL RELAY_SERVER_API_KEY=$KEY
F=(rgs-fetch -d "$D" --retries 2 --retry-delay 0.05 --connect-timeout 2 --timeout 2 -vv)
id_of() { si_get tree | jq -r --arg p "$1" '.entries[$p].id'; }
NID=$(id_of /Startseite.md)
RC=$(printf '{"v":1,"type":"reconcile","ref":"rc","relay":"%s","folder":"%s"}' $REL $FOL)
# an op that needs one note (one as-update request)
NOTEOP=$(printf '{"v":1,"type":"op","ref":"n1","op":"write","relay":"%s","folder":"%s","path":"Startseite.md","source":{"kind":"markdown","doc":"%s"}}' $REL $FOL $NID)
OGG=$(cd "$VAULT" && find . -name '*.ogg' | head -1 | sed 's/^\.//')
OID=$(id_of "$OGG")
OH=$(si_get tree | jq -r --arg p "$OGG" '.entries[$p].hash')
BLOBOP=$(printf '{"v":1,"type":"op","ref":"b1","op":"write","relay":"%s","folder":"%s","path":"a.ogg","source":{"kind":"blob","doc":"%s","hash":"%s"}}' $REL $FOL $OID $OH)

fail_rule() { si_post fail "{\"clear\":true,\"rules\":[$1]}" >/dev/null; si_post stats/reset '{}' >/dev/null; }
run() { # INPUT -> $out, $err, $rc
  printf '%s\n' "$1" | "${F[@]}" "${@:2}" >"$RGS_TMP/out" 2>"$RGS_TMP/err"; rc=$?
  out=$(cat "$RGS_TMP/out")
}
failed_is() { # NAME TEMPORARY: the single failed record and exit 1
  local f
  f=$(printf '%s\n' "$out" | jq -c 'select(.type=="failed") | [.temporary, .stage, .ref]')
  t_is "$1" "$rc $f" "1 [$2,\"rgs-fetch\",\"${3:-n1}\"]"
}
stat() { si_get stats | jq -r "$1"; }

# 500 twice, then fine: retried, succeeds
fail_rule '{"match":"as-update","action":"status","status":500,"count":2}'
run "$NOTEOP"
t_is "two 500s then 200: success after 3 attempts" "$rc $(printf '%s\n' "$out" | jq -r '.type') $(stat .as_update)" "0 op 3"
t_ok "retries are logged at debug level" grep -q 'HTTP 500; retry 1 of 2' "$RGS_TMP/err"

# 500 forever: bounded retries, temporary failure
fail_rule '{"match":"as-update","action":"status","status":503,"count":-1}'
run "$NOTEOP"
failed_is "503 forever: temporary failure, exit 1" true
t_is "... after exactly 1 + 2 retries" "$(stat .as_update)" 3
t_ok "... the reason names the request and the status" grep -q "GET /d/$REL-$NID/as-update: HTTP 503 (after 3 attempts)" <(printf '%s\n' "$out")

# slow answers: time-out, temporary
fail_rule '{"match":"as-update","action":"slow","delay_ms":4000,"count":-1}'
run "$NOTEOP" --retries 1 --timeout 0.5
failed_is "slow answer beyond --timeout: temporary failure" true
t_ok "... reason says timed out" grep -qi 'timed out\|timeout' <(printf '%s\n' "$out" | jq -r 'select(.type=="failed").reason')
fail_rule '{"match":"as-update","action":"hang","count":1}'
run "$NOTEOP" --timeout 1.5  # the retry must finish within it too
t_is "a hung request times out and the retry succeeds" "$rc $(printf '%s\n' "$out" | jq -r .type) $(stat .as_update)" "0 op 2"

# dropped and truncated connections
fail_rule '{"match":"as-update","action":"drop","count":-1}'
run "$NOTEOP"
failed_is "dropped connection every time: temporary failure" true
fail_rule '{"match":"as-update","action":"truncate","count":1}'
run "$NOTEOP"
t_is "truncated answer, then a good one: success" "$rc $(printf '%s\n' "$out" | jq -r .type) $(stat .as_update)" "0 op 2"

# permanent failures: no retry
for st in 401 403 404; do
  fail_rule "{\"match\":\"as-update\",\"action\":\"status\",\"status\":$st,\"count\":-1}"
  run "$NOTEOP"
  failed_is "HTTP $st: permanent failure" false
  t_is "HTTP $st: no retry" "$(stat .as_update)" 1
done
fail_rule ''
run "$NOTEOP" --relay-server-api-key wrong-key
failed_is "a wrong API key (real 401 from Relay): permanent" false
t_ok "... reason hints at the key" grep -q 'HTTP 401 (check RELAY_SERVER_API_KEY)' <(printf '%s\n' "$out")
fail_rule '{"match":"as-update","action":"wrong-bytes","count":-1}'
run "$NOTEOP"
failed_is "malformed update: permanent" false
t_ok "... reason names the byte offset" grep -q 'not a Yjs v1 update (byte ' <(printf '%s\n' "$out")

# attachments
fail_rule '{"match":"/_blob/","action":"wrong-bytes","count":-1}'
run "$BLOBOP"
failed_is "attachment bytes with the wrong hash: permanent" false b1
t_is "... nothing in the cache, no temporary file left" "$(ls -A "$D/cache/blobs" | wc -l)" 0
fail_rule '{"match":"download-url","action":"wrong-bytes","count":-1}'
run "$BLOBOP"
failed_is "download-url pointing at other bytes: permanent" false b1
fail_rule '{"match":"download-url","action":"status","status":404,"count":-1}'
run "$BLOBOP"
failed_is "download-url 404: permanent" false b1
fail_rule '{"match":"/_blob/","action":"status","status":500,"count":1}'
run "$BLOBOP"
t_is "blob GET 500 once: retried, stored" "$rc $(printf '%s\n' "$out" | jq -r .blob) $(stat .blob)" "0 $OH 2"
rm -f "$D/cache/blobs/$OH"
fail_rule ''
run "$BLOBOP" --max-blob-size 1000
failed_is "attachment over --max-blob-size: permanent" false b1
t_ok "... reason names the limit" grep -q 'larger than the limit of 1000 bytes' <(printf '%s\n' "$out")

# a reconcile with one failing document: the others still arrive
fail_rule "{\"match\":\"$NID/as-update\",\"action\":\"status\",\"status\":500,\"count\":-1}"
run "$RC"
t_is "reconcile with one failing note: exit 1, one failed, every other doc there" \
  "$rc $(printf '%s\n' "$out" | jq -r 'select(.type=="failed") | [.ref,.doc,.folder,.temporary]|join(",")') $(printf '%s\n' "$out" | jq -r 'select(.type=="doc")' | jq -s length) $(printf '%s\n' "$out" | tail -1 | jq -r .type)" \
  "1 rc,$NID,$FOL,true $(( $(cd "$VAULT" && find . -name '*.md' -o -name '*.canvas' | wc -l) - 1 )) reconcile"
fail_rule "{\"match\":\"$FOL/as-update\",\"action\":\"status\",\"status\":500,\"count\":-1}"
run "$RC"
t_is "reconcile whose folder fails: failed (temporary) then the reconcile, no snapshot" \
  "$rc $(printf '%s\n' "$out" | jq -r .type | tr '\n' ' ')" "1 failed reconcile "

# connection reuse and parallelism
fail_rule ''
run "$RC" -j 4
# (the stand-in counts the connection of this stats query too)
conns=$(stat .connections); t_is "a reconcile of $(stat .as_update) documents over at most 4 connections ($conns - 1)" "$rc $((conns - 1 <= 4))" "0 1"

# the API key never shows up in messages, even at the highest verbosity
t_is "API key never printed" "$(cat "$RGS_TMP"/err* "$RGS_TMP"/si.err | grep -c -- "$KEY")" 0

# https stays https
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$RGS_TMP/key.pem" -out "$RGS_TMP/cert.pem" -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
  kill "$SI_PID"
  standin_start tls --vault "$VAULT" --relay $REL --folder $FOL --token $KEY \
    --tls-cert "$RGS_TMP/cert.pem" --tls-key "$RGS_TMP/key.pem"
  t_is "TLS stand-in serves https" "${SI_URL%%:*}" https
  rm -rf "$D/cache/blobs"
  run "$RC" --relay-server-url "$SI_URL" --cacert "$RGS_TMP/cert.pem"
  t_is "over https: the whole folder" "$rc $(printf '%s\n' "$out" | jq -r 'select(.type=="doc")' | jq -s length)" \
    "0 $(cd "$VAULT" && find . -name '*.md' -o -name '*.canvas' | wc -l)"
  run "$BLOBOP" --relay-server-url "$SI_URL" --cacert "$RGS_TMP/cert.pem"
  t_is "over https: an attachment (download URL https too)" "$rc $(printf '%s\n' "$out" | jq -r .blob)" "0 $OH"
  run "$NOTEOP" --relay-server-url "$SI_URL"
  failed_is "https with an unknown CA: refused, never retried over http" false
  run "$NOTEOP" --relay-server-url "http://127.0.0.1:${SI_PORT}"
  t_is "http:// to the TLS port is not upgraded or downgraded: it fails" "$rc" 1
else
  skip "openssl not installed: https tests"
fi
done_testing
