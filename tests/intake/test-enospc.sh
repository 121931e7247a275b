#!/usr/bin/env bash
# A full disk answers 503: the spool on a tiny tmpfs (64 KiB, in a private
# mount namespace made by unshare -m, so nothing leaks to the machine),
# filled up; a webhook then gets 503 with the JSON error body, leaves no
# partial record in the spool (the batch log keeps its size and bytes,
# nothing in new/ or tmp/), and once space is freed the next webhook is
# accepted and stored; the same for a spool full before its first
# webhook.  Needs root and unshare(1); skipped otherwise.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-intake.sh"

if [ "$(id -u)" != 0 ]; then
  skip "ENOSPC test needs root (mount of a tmpfs in a private mount namespace)"; done_testing
fi
if ! command -v unshare >/dev/null || ! unshare -m sh -c 'mount -t tmpfs -o size=64k tmpfs /mnt' 2>/dev/null; then
  skip "ENOSPC test needs unshare -m and tmpfs mounts (not allowed here)"; done_testing
fi

export WEBHOOK_SECRET=s3cret-$RANDOM
# start_ns DATA_DIR: rgs-accept + rgs-verify in a mount namespace where
# DATA_DIR/spool is a new 64 KiB tmpfs; the listener and every rgs-verify
# it starts see the tmpfs, the test reaches it through /proc/PID/root.
# Sets ACCEPT_PID PORT droot (the data directory as they see it) sp url.
start_ns() {
  local d=$1 pf=$RGS_TMP/port.$RANDOM i=0
  mkdir -p "$d/spool"
  RELAY_GIT_DATA_DIR=$d unshare -m sh -c 'mount -t tmpfs -o size=64k,mode=0755 tmpfs "$1/spool" && shift && exec "$@"' \
    sh "$d" rgs-accept -c 8 127.0.0.1 0 rgs-verify >"$pf" 2>>"$RGS_TMP/server.log" &
  ACCEPT_PID=$!
  while [ ! -s "$pf" ] && [ $i -lt 200 ]; do i=$((i+1)); sleep 0.05; done
  PORT=$(head -1 "$pf")
  droot=/proc/$ACCEPT_PID/root$d; sp=$droot/spool
  url=http://127.0.0.1:$PORT/webhooks
  [ -n "$PORT" ]
}
dd=$RGS_TMP/d
start_ns "$dd" || { notok "rgs-accept starts in its own mount namespace"; sed 's/^/# /' "$RGS_TMP/server.log"; done_testing; }
t_is "the spool is the 64 KiB tmpfs" "$(stat -f -c '%T %b' "$sp")" "tmpfs 16"
t_fails "... seen only inside the namespace" test "$(stat -f -c %T "$dd/spool")" = tmpfs

post() { curl -s --max-time 20 -w ' %{http_code}' -H "Authorization: Bearer $WEBHOOK_SECRET" --data-binary @"$1" "$url"; }
body "$DOC_ID" evt_first >"$RGS_TMP/b1"
t_is "a webhook while there is room: 200" "$(post "$RGS_TMP/b1")" '{"status":"received"} 200'
t_is "it is in the spool" "$(spool_records "$droot" | jq -r .event_id)" evt_first

# fill the file system; a record of about 12 KiB cannot fit in what the
# last pages of the log have left
dd if=/dev/zero of="$sp/filler" bs=4k 2>/dev/null
t_is "the tmpfs is full" "$(stat -f -c %a "$sp")" 0
pad=$(head -c 12000 /dev/zero | tr '\0' x)
printf '{"eventId":"evt_big","payload":{"doc_id":"%s","metadata":{"pad":"%s"}}}' "$DOC_ID" "$pad" >"$RGS_TMP/b2"
cp "$sp/log/current" "$RGS_TMP/log.before"
ls -A "$sp/new" "$sp/tmp" 2>/dev/null | grep -v ':$' | grep -v '^$' >"$RGS_TMP/files.before"
t_is "disk full: 503 with the JSON error body" "$(post "$RGS_TMP/b2")" \
  '{"error":"Service unavailable: the event could not be stored"} 503'
# rgs-verify logs the request after answering it: give it a moment
t_ok "the log says why (No space left on device)" logged "POST /webhooks 503 .*No space left on device"
t_diff "the batch log is byte for byte as before (no half-written record)" "$sp/log/current" "$RGS_TMP/log.before"
ls -A "$sp/new" "$sp/tmp" 2>/dev/null | grep -v ':$' | grep -v '^$' >"$RGS_TMP/files.after"
t_diff "nothing new in spool/new or spool/tmp" "$RGS_TMP/files.after" "$RGS_TMP/files.before"
t_fails "evt_big is nowhere in the spool" grep -rq evt_big "$sp"
t_is "still one record waiting" "$(spooled "$droot")" 1

rm "$sp/filler"
t_is "space freed: the same webhook is accepted" "$(post "$RGS_TMP/b2")" '{"status":"received"} 200'
t_is "both records in the spool, each once, in order" "$(spool_records "$droot" | jq -r .event_id | paste -sd' ')" "evt_first evt_big"
t_is "the padding arrived whole" "$(spool_records "$droot" | jq -r 'select(.event_id=="evt_big") | .metadata.pad | length')" 12000
kill "$ACCEPT_PID"; wait "$ACCEPT_PID" 2>/dev/null

# a spool that is full before its first webhook: the batch log cannot get
# its first byte
start_ns "$RGS_TMP/d2" || notok "second rgs-accept starts in its own mount namespace"
dd if=/dev/zero of="$sp/filler" bs=4k 2>/dev/null
t_is "fresh spool, disk full: 503 with the JSON error body" "$(post "$RGS_TMP/b1")" \
  '{"error":"Service unavailable: the event could not be stored"} 503'
t_is "nothing stored" "$(spooled "$droot")" 0
t_is "no file with content in new/, tmp/ or log/" "$(find "$sp/new" "$sp/tmp" "$sp/log" -type f -size +0 2>/dev/null | wc -l)" 0
rm "$sp/filler"
t_is "space freed: accepted" "$(post "$RGS_TMP/b1")" '{"status":"received"} 200'
t_is "and stored once" "$(spool_records "$droot" | jq -r .event_id)" evt_first
kill "$ACCEPT_PID"; wait "$ACCEPT_PID" 2>/dev/null
done_testing
