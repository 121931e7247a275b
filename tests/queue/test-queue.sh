#!/usr/bin/env bash
# rgs-queue: coalescing of spooled webhooks, reconciles (start-up, interval,
# by hand), the tick, and --ack (ack / requeue with backoff / fail), crash
# leftovers in cur/, dry run (also of the batch log rgs-verify writes).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../plan/wt-lib.sh"
DD=$RGS_TMP/q; wt_init "$DD"
A=$(uid 1) B=$(uid 2)
# spool SECONDS RESOURCE USER TIMESTAMP [EVENT_ID]: one spool entry in new/
# (SECONDS, 2 digits, orders and names it; the event id defaults to evt_SECONDS)
spool() {
  local n=$1
  local name; name=$(printf '17725751%02d.%09d.4242.%d' "$n" "$n" "$n")
  mkdir -p "$DD/spool/new" "$DD/spool/tmp" "$DD/spool/cur" "$DD/spool/failed"
  jq -cn --arg r "$R" --arg x "$2" --arg u "$3" --arg t "$4" --arg e "${5:-evt_$n}" \
    '{v:1,type:"webhook",relay:$r,resource:$x,doc_id:($r+"-"+$x),event_type:"document.updated",
      event_id:$e,metadata:{},received:1772575100.5,auth:"bearer"}
     + (if $u == "" then {user:null} else {user:$u} end) + (if $t == "" then {} else {timestamp:$t} end)' \
    >"$DD/spool/new/$name"
  echo "$name"
}
q() { rgs-queue -d "$DD" "$@"; }

# --- coalescing ---------------------------------------------------------------
a1=$(spool 10 "$A" u1 "2026-03-03T21:58:48.123456789+00:00")
b1=$(spool 11 "$B" u2 "2026-03-03T21:58:49+00:00")
a2=$(spool 12 "$A" "" "2026-03-03T21:58:50.5+00:00")
a3=$(spool 13 "$A" u2 "2026-03-03T22:58:47+01:00")       # = 21:58:47Z: older
a4=$(spool 14 "$A" u1 "2026-03-03T21:58:50.25+00:00" evt_1)
f1=$(spool 15 "$F" u3 "")
st=0; q >"$RGS_TMP/q1" 2>"$RGS_TMP/q1.err" || st=$?
t_is "exit 0" "$st" 0
want=$(jq -cn --arg r "$R" --arg a "$A" --arg b "$B" --arg f "$F" --arg a1 "$a1" --arg a2 "$a2" \
  --arg a3 "$a3" --arg a4 "$a4" --arg b1 "$b1" --arg f1 "$f1" '
  {v:1,type:"event",ref:("ev:"+$r+":"+$a),relay:$r,resource:$a,timestamp:"2026-03-03T21:58:50.5+00:00",
   users:["u1","u2"],event_ids:["evt_10","evt_12","evt_13","evt_1"],count:4,spool:[$a1,$a2,$a3,$a4]},
  {v:1,type:"event",ref:("ev:"+$r+":"+$b),relay:$r,resource:$b,timestamp:"2026-03-03T21:58:49+00:00",
   users:["u2"],event_ids:["evt_11"],count:1,spool:[$b1]},
  {v:1,type:"event",ref:("ev:"+$r+":"+$f),relay:$r,resource:$f,timestamp:null,
   users:["u3"],event_ids:["evt_15"],count:1,spool:[$f1]}')
t_is "coalesced per resource: newest timestamp (offsets honoured), users, ids, entries in order" \
  "$(jq -c 'select(.type == "event")' "$RGS_TMP/q1")" "$want"
t_is "first run: reconcile every folder (interval never ran), then one tick last" \
  "$(jq -r '.type + " " + (.reason // "") + " " + (.folder // "")' "$RGS_TMP/q1" | tail -3 | tr '\n' '|')" \
  "reconcile interval $F|reconcile interval $F2|tick  |"
t_is "tick: final false, time now" \
  "$(jq -r 'select(.type == "tick") | [.final, (.time > 1700000000)] | @tsv' "$RGS_TMP/q1")" "false	true"
t_is "entries moved to cur/" "$(ls "$DD/spool/cur" | wc -l) $(ls "$DD/spool/new" | wc -l)" "6 0"
t_ok "reconcile time remembered" jq -e --arg k "$R/$F" '.[$k] > 1700000000' "$DD/spool/reconcile.json"

# --- a crashed batch: cur/ leftovers are claimed again ----------------------------
st=0; q --reconcile-interval 900 >"$RGS_TMP/q2" || st=$?
t_is "leftovers in cur/ come again" "$(jq -s -c 'map(select(.type == "event") | .count)' "$RGS_TMP/q2")" "[4,1,1]"
t_is "no interval reconcile before it is due" "$(jq -s 'map(select(.type == "reconcile")) | length' "$RGS_TMP/q2")" 0

# --- ack: done, temporary failure, permanent failure --------------------------------
{ cat "$RGS_TMP/q2"
  jq -cn --arg r "$R" --arg b "$B" '{v:1,type:"failed",ref:("ev:"+$r+":"+$b),stage:"rgs-fetch",reason:"HTTP 503",temporary:true}'
  jq -cn --arg r "$R" --arg f "$F" '{v:1,type:"failed",ref:("ev:"+$r+":"+$f),stage:"rgs-plan",reason:"folder not configured",temporary:false}'
  jq -cn '{v:1,type:"applied",ref:"x",path:"a.md"}'; } >"$RGS_TMP/final"
st=0; rgs-queue -d "$DD" --ack <"$RGS_TMP/final" >"$RGS_TMP/acked" 2>"$RGS_TMP/ack.err" || st=$?
t_is "ack: exit 0" "$st" 0
t_diff "ack: records pass through unchanged" "$RGS_TMP/acked" "$RGS_TMP/final"
t_is "ack: done entries removed" "$(ls "$DD/spool/cur")" ""
t_is "ack: temporary failure requeued with attempts 1" "$(ls "$DD/spool/new")" "$b1.a1"
t_is "ack: permanent failure recorded in failed/" "$(ls "$DD/spool/failed" | sort | tr '\n' ' ')" "$f1 $f1.reason "
t_ok "ack: reason names stage and cause" grep -q "rgs-plan: folder not configured" "$DD/spool/failed/$f1.reason"
# the retry is due 2 s after the ack by the wall clock; a slow machine (ASan)
# may take that long before the next look, so push it far into the future
jq '.[] |= (.time = 1e10)' "$DD/spool/retry.json" >"$RGS_TMP/r" && cp "$RGS_TMP/r" "$DD/spool/retry.json"

# --- backoff: a requeued entry waits; a fresh webhook carries it along ----------------
st=0; q --reconcile-interval 900 >"$RGS_TMP/q3" || st=$?
t_is "backoff: requeued entry not in the next batch" "$(jq -s 'map(select(.type == "event")) | length' "$RGS_TMP/q3")" 0
t_is "backoff: it waits in cur/" "$(ls "$DD/spool/cur")" "$b1.a1"
b2=$(spool 20 "$B" u4 "2026-03-03T23:00:00Z")
q --reconcile-interval 900 >"$RGS_TMP/q4"
t_is "backoff: a fresh webhook for the resource carries it" \
  "$(jq -c 'select(.type == "event") | [.spool, .users]' "$RGS_TMP/q4")" "[[\"$b1.a1\",\"$b2\"],[\"u2\",\"u4\"]]"
jq -c 'select(.type != "event")' "$RGS_TMP/q4" >/dev/null
# fail again: both entries requeued; then make the retry due
{ cat "$RGS_TMP/q4"; jq -cn --arg r "$R" --arg b "$B" '{v:1,type:"failed",ref:("ev:"+$r+":"+$b),reason:"x",temporary:true}'; } |
  rgs-queue -d "$DD" --ack >/dev/null 2>&1
t_is "requeue again: attempts counted per entry" "$(ls "$DD/spool/new" | sort | tr '\n' ' ')" "$b1.a2 $b2.a1 "
jq '.[] |= (.time = 0)' "$DD/spool/retry.json" >"$RGS_TMP/r" && cp "$RGS_TMP/r" "$DD/spool/retry.json"
q --reconcile-interval 900 >"$RGS_TMP/q5"
t_is "backoff over: the entries come back" "$(jq -c 'select(.type == "event") | .count' "$RGS_TMP/q5")" 2

# --- bounded attempts --------------------------------------------------------------------
{ cat "$RGS_TMP/q5"; jq -cn --arg r "$R" --arg b "$B" '{v:1,type:"failed",ref:("ev:"+$r+":"+$b),stage:"rgs-fetch",reason:"HTTP 500",temporary:true}'; } |
  rgs-queue -d "$DD" --ack --max-attempts 3 >/dev/null 2>&1
t_is "max attempts: the 3rd failure goes to failed/" "$(ls "$DD/spool/failed" | grep -c "^$b1")" 2
t_ok "max attempts: reason says so" grep -q "gave up after 3 attempts: rgs-fetch: HTTP 500" "$DD/spool/failed/$b1.a2.reason"
t_is "max attempts: the other entry requeued" "$(ls "$DD/spool/new")" "$b2.a2"
t_ok "retry.json forgets finished entries" jq -e --arg b "${b1}" 'has($b) | not' "$DD/spool/retry.json"

# --- reconciles by hand, at start-up, final tick -------------------------------------------
rm -rf "$DD/spool/new/"* "$DD/spool/cur/"*
t_is "--reconcile R/F: that folder, manual" \
  "$(q --no-spool --reconcile "$R/$F" | jq -r 'select(.type == "reconcile") | .folder + " " + .reason')" "$F manual"
t_is "--reconcile R (upper case): every folder of the relay" \
  "$(q --no-spool --reconcile "${R^^}" | jq -r 'select(.type == "reconcile") | .folder' | tr '\n' ' ')" "$F $F2 "
st=0; out=$(q --no-spool --reconcile "$R/$(uid 77)" 2>"$RGS_TMP/e") || st=$?
t_is "--reconcile of an unconfigured folder: none, warning" \
  "$st $(echo "$out" | jq -s 'map(select(.type == "reconcile")) | length') $(grep -c 'no configured folder' "$RGS_TMP/e")" "0 0 1"
t_is "--startup: every folder" "$(q --startup | jq -r 'select(.type == "reconcile") | .reason' | sort -u)" startup
t_is "--final" "$(q --no-spool --final | jq -r 'select(.type == "tick") | .final')" true
spool 30 "$A" u1 "" >/dev/null
t_is "--no-spool leaves the spool alone" "$(q --no-spool | jq -s 'map(select(.type == "event")) | length') $(ls "$DD/spool/new" | wc -l)" "0 1"
t_is "-n: shows the events, moves nothing" "$(q -n | jq -s 'map(select(.type == "event")) | length') $(ls "$DD/spool/new" | wc -l)" "1 1"
# webhooks that came through rgs-verify wait in the batch log spool/log/current
hook() { # RESOURCE EVENT_ID: POST one webhook to rgs-verify by hand
  local b; b=$(jq -cn --arg d "$R-$1" --arg e "$2" '{eventType:"document.updated",eventId:$e,payload:{doc_id:$d}}')
  printf 'POST /webhooks HTTP/1.1\r\nHost: q\r\nAuthorization: Bearer qs3cret\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s' \
    "${#b}" "$b" | WEBHOOK_SECRET=qs3cret rgs-verify -q -d "$DD" | head -1 | tr -d '\r'
}
t_is "a webhook through rgs-verify: 200" "$(hook "$B" evt_log1)" "HTTP/1.1 200 OK"
hook "$A" evt_log2 >/dev/null
t_ok "it waits in the batch log" test -s "$DD/spool/log/current"
events() { jq -c 'select(.type == "event") | [.resource, .count, .event_ids]' | sort; }
q -n | events >"$RGS_TMP/dry"
t_is "-n: sees the batch log's webhooks too" "$(cat "$RGS_TMP/dry")" \
  "$(printf '%s\n' "[\"$A\",2,[\"evt_30\",\"evt_log2\"]]" "[\"$B\",1,[\"evt_log1\"]]" | sort)"
t_is "-n: the batch log stays where it is" "$(wc -l <"$DD/spool/log/current") $(ls "$DD/spool/new" | wc -l) $(ls "$DD/spool/cur" | wc -l)" "2 1 0"
q --reconcile-interval 900 | events >"$RGS_TMP/real"
t_diff "-n showed what the real run takes" "$RGS_TMP/real" "$RGS_TMP/dry"
rm -rf "$DD/spool/new/"* "$DD/spool/cur/"* "$DD/spool/log/"*
spool 30 "$A" u1 "" >/dev/null
jq '.[] = 0' "$DD/spool/reconcile.json" >"$RGS_TMP/r" && cp "$RGS_TMP/r" "$DD/spool/reconcile.json"
t_is "interval due again" "$(q --reconcile-interval 60 | jq -s 'map(select(.type == "reconcile")) | length')" 2

# --- bad input ---------------------------------------------------------------------------------
echo '{"v":1,"type":"webhook","relay":"../../etc","resource":"x"}' >"$DD/spool/new/1772575199.000000001.1.1"
q >/dev/null 2>&1
t_ok "entry without valid ids goes to failed/" test -f "$DD/spool/failed/1772575199.000000001.1.1"
t_status "bad --reconcile is 100" 100 sh -c "rgs-queue -d '$DD' --reconcile ../x 2>/dev/null"
t_status "unknown option is 100" 100 sh -c "rgs-queue --bogus 2>/dev/null"
t_status "--ack: bad v is 100" 100 sh -c "echo '{\"v\":3,\"type\":\"event\"}' | rgs-queue -d '$DD' --ack >/dev/null 2>&1"
echo 'x = [' >"$DD/git_connectors.toml"
t_status "bad configuration is 100" 100 sh -c "rgs-queue -d '$DD' >/dev/null 2>&1"
done_testing
