#!/usr/bin/env bash
# Svix / Standard Webhooks signatures made by the npm svix package
# (Webhook.sign), sent with curl to rgs-accept + rgs-verify: valid, wrong
# secret, stale and future timestamps, resends of a message id (Standard
# Webhooks: 2xx, not stored twice; also concurrent ones), a resend after a
# 503, several signatures, webhook-* headers; replays in other shapes
# (signature order, header order, names and case, new timestamp, new body)
# answered 200 and never spooled twice.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-intake.sh"

secret=whsec_$(head -c 24 /dev/urandom | base64)
other=whsec_$(head -c 24 /dev/urandom | base64)
export WEBHOOK_SECRET=$secret
dd=$RGS_TMP/d
start_accept "$dd" || { notok "rgs-accept starts"; done_testing; }
url=http://127.0.0.1:$PORT/webhooks
bf=$RGS_TMP/body
sign() { node "$RGS_ROOT/tests/intake/svix-sign.js" "$1" "$2" "$3" "$bf"; } # SECRET ID TS

# post PREFIX ID TS SIG [extra curl args]: prints "status body"
post() {
  local p=$1 id=$2 ts=$3 sig=$4; shift 4
  curl -s --max-time 20 -w ' %{http_code}\n' -H 'Content-Type: application/json' \
    -H "$p-id: $id" -H "$p-timestamp: $ts" -H "$p-signature: $sig" "$@" --data-binary @"$bf" "$url"
}

now=$(date +%s)
body "$DOC_ID" evt_one >"$bf"
sig=$(sign "$secret" msg_one "$now")
t_ok "svix produced a v1 signature" test "${sig#v1,}" != "$sig"
t_is "valid svix-* signature: 200" "$(post svix msg_one "$now" "$sig")" '{"status":"received"} 200'
t_is "spooled once" "$(spooled "$dd")" 1
t_is "record says auth svix" "$(spool_records "$dd" | jq -r .auth)" svix
t_is "resend of the same request: 200 (Standard Webhooks: duplicates get 2xx)" \
  "$(post svix msg_one "$now" "$sig")" '{"status":"received"} 200'
sig2=$(sign "$secret" msg_one "$((now + 5))")
t_is "same message id re-signed with a new timestamp (a Svix retry): 200" \
  "$(post svix msg_one "$((now + 5))" "$sig2")" '{"status":"received"} 200'
t_is "still one entry: resends are not spooled again" "$(spooled "$dd")" 1
t_ok "the log says why" logged "POST /webhooks 200 .*already received and stored, not spooled again"

body "$DOC_ID" evt_two >"$bf"
sig=$(sign "$secret" msg_two "$now")
t_is "webhook-* headers: 200" "$(post webhook msg_two "$now" "$sig")" '{"status":"received"} 200'

body "$DOC_ID" evt_three >"$bf"
sig=$(sign "$other" msg_three "$now")
t_is "wrong secret: 401 with the svix library's reason" "$(post svix msg_three "$now" "$sig")" \
  '{"error":"Authentication failed: Signature validation failed: No matching signature found"} 401'
old=$((now - 400)); sig=$(sign "$secret" msg_three "$old")
t_is "timestamp 400 s old: 401" "$(post svix msg_three "$old" "$sig")" \
  '{"error":"Authentication failed: Signature validation failed: Message timestamp too old"} 401'
new=$((now + 400)); sig=$(sign "$secret" msg_three "$new")
t_is "timestamp 400 s ahead: 401" "$(post svix msg_three "$new" "$sig")" \
  '{"error":"Authentication failed: Signature validation failed: Message timestamp too new"} 401'
good=$(sign "$secret" msg_three "$now") bad=$(sign "$other" msg_three "$now")
t_is "several signatures, one good: 200" "$(post svix msg_three "$now" "$bad v1a,xyz $good")" '{"status":"received"} 200'

body "$DOC_ID" evt_four >"$bf"
good=$(sign "$secret" msg_four "$now")
t_is "the good signature under version v2: 401" "$(post svix msg_four "$now" "v2,${good#v1,}" -o /dev/null)" ' 401'
t_is "refused attempts do not burn the id: 200 afterwards" "$(post svix msg_four "$now" "$good")" '{"status":"received"} 200'
body "$DOC_ID" evt_five >"$bf"
good=$(sign "$secret" msg_five "$now")
body "$DOC_ID" evt_fivX >"$bf"
t_is "body changed after signing: 401" "$(post svix msg_five "$now" "$good" -o /dev/null)" ' 401'
t_is "no signature headers: 401 Authentication required" \
  "$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $secret" --data-binary @"$bf" "$url")" \
  '{"error":"Authentication required"} 401'
t_is "svix-* incomplete, webhook-* complete: uses webhook-*" \
  "$(post webhook msg_five "$now" "$(sign "$secret" msg_five "$now")" -H 'svix-id: msg_other')" '{"status":"received"} 200'

# ten concurrent copies of one signed request: all 200, stored once
body "$DOC_ID" evt_race >"$bf"
sig=$(sign "$secret" msg_race "$now")
for i in 1 2 3 4 5 6 7 8 9 10; do post svix msg_race "$now" "$sig" -o /dev/null >"$RGS_TMP/race.$i" & done
wait_race() { local i; for i in 1 2 3 4 5 6 7 8 9 10; do while [ ! -s "$RGS_TMP/race.$i" ]; do sleep 0.05; done; done; }
wait_race
t_is "concurrent copies: ten 200" "$(cat "$RGS_TMP"/race.* | sort | uniq -c | awk '{print $1 "x" $2}' | paste -sd' ')" "10x200"
t_is "six events spooled in all (the copies once)" "$(spooled "$dd")" 6
t_is "the message was stored once" "$(spool_records "$dd" | grep -c '"evt_race"')" 1

# a copy that could not be stored (503) does not count: its resend is stored
body "$DOC_ID" evt_full >"$bf"
sig=$(sign "$secret" msg_full "$now")
mv "$dd/spool/log" "$dd/spool/log.away"; echo "not a directory" >"$dd/spool/log"
t_is "spool not writable: 503" "$(post svix msg_full "$now" "$sig" -o /dev/null)" ' 503'
rm "$dd/spool/log"; mv "$dd/spool/log.away" "$dd/spool/log"
t_is "the resend: 200" "$(post svix msg_full "$now" "$sig")" '{"status":"received"} 200'
t_is "and it is stored" "$(spool_records "$dd" | grep -c '"evt_full"')" 1
t_ok "replay cache: one table per minute under spool/seen/" test "$(find "$dd/spool/seen" -type f -name '*.tab' | wc -l)" -ge 1
t_is "markers are not spool entries (depth 7)" "$(curl -s "http://127.0.0.1:$PORT/health" | jq .spool.depth)" 7

# a replay is refused from the spool whatever shape it comes in: other
# signature order, other header order, other header names (webhook-* for
# svix-* and back), other case, re-signed later, even with another body
hdr() { curl -s --max-time 20 -w ' %{http_code}\n' "$@" --data-binary @"$bf" "$url"; }
before=$(spooled "$dd")
notes=$(grep -c "already received and stored, not spooled again" "$RGS_TMP/server.log")
body "$DOC_ID" evt_shape >"$bf"
s1=$(sign "$secret" msg_shape "$now") s0=$(sign "$other" msg_shape "$now")
t_is "replay shapes: the first copy (svix-*): 200" "$(post svix msg_shape "$now" "$s1")" '{"status":"received"} 200'
t_is "replay with the signatures in another order: 200" "$(post svix msg_shape "$now" "$s0 $s1")" '{"status":"received"} 200'
t_is "replay with the header fields in another order: 200" \
  "$(hdr -H "svix-signature: $s1" -H "svix-timestamp: $now" -H "svix-id: msg_shape")" '{"status":"received"} 200'
t_is "replay with webhook-* headers: 200" "$(post webhook msg_shape "$now" "$s1 $s0")" '{"status":"received"} 200'
t_is "replay with capitalised names: 200" \
  "$(hdr -H "Webhook-Signature: $s1" -H "WEBHOOK-ID: msg_shape" -H "Webhook-Timestamp: $now")" '{"status":"received"} 200'
later=$((now + 7)); s2=$(sign "$secret" msg_shape "$later")
t_is "replay re-signed 7 s later, webhook-*: 200" "$(post webhook msg_shape "$later" "$s0 $s2")" '{"status":"received"} 200'
body "$DOC_ID" evt_shapeX >"$bf"
t_is "replay of the id with another body, signed anew: 200" \
  "$(post svix msg_shape "$now" "$(sign "$secret" msg_shape "$now")")" '{"status":"received"} 200'
t_is "the message was stored once" "$(spool_records "$dd" | grep -c '"evt_shape"')" 1
t_is "the changed body was not stored" "$(spool_records "$dd" | grep -c '"evt_shapeX"')" 0
body "$DOC_ID" evt_wh >"$bf"
s1=$(sign "$secret" msg_wh "$now")
t_is "first copy with webhook-* headers: 200" "$(post webhook msg_wh "$now" "$s1")" '{"status":"received"} 200'
t_is "its replay with svix-* headers: 200" "$(post svix msg_wh "$now" "$s0 $s1")" '{"status":"received"} 200'
t_is "replays spooled nothing: two new records in all" "$(spooled "$dd")" "$((before + 2))"
t_ok "each of the 7 replays logged as not spooled again" logged "already received and stored, not spooled again" "$((notes + 7))"
kill "$ACCEPT_PID"; wait "$ACCEPT_PID" 2>/dev/null
t_fails "the secret never appears in the logs" grep -qF -e "${secret#whsec_}" "$RGS_TMP/server.log"
done_testing
