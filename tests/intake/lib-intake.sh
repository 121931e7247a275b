# Helpers shared by tests/intake/test-*.sh (source after ../lib.sh).
DOC_RELAY=0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b
DOC_RES=11111111-2222-3333-4444-555555555555
DOC_ID=$DOC_RELAY-$DOC_RES

# body [DOC_ID] [EVENT_ID]: a webhook body as Relay Server sends it
body() {
  printf '{"eventType":"document.updated","eventId":"%s","payload":{"doc_id":"%s","metadata":{},"timestamp":"2026-03-03T21:58:48.123456789+00:00","user":"u1"}}' \
    "${2:-evt_V1StGXR8Z5jdHi6B2myT4}" "${1:-$DOC_ID}"
}

# accept_on DATA_DIR [rgs-accept options...] [-- rgs-verify options...]:
# rgs-accept on a port of its choosing in front of rgs-verify; sets
# ACCEPT_PID and PORT (returns 1 when no port is printed within 10 s).  The
# secret comes from $WEBHOOK_SECRET in the environment.
accept_on() {
  local dd=$1; shift
  local a=() pf=$RGS_TMP/port.$RANDOM
  while [ $# -gt 0 ] && [ "$1" != -- ]; do a+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  RELAY_GIT_DATA_DIR=$dd rgs-accept "${a[@]}" 127.0.0.1 0 rgs-verify "$@" >"$pf" 2>>"$RGS_TMP/server.log" &
  ACCEPT_PID=$!
  local i=0
  while [ ! -s "$pf" ]; do i=$((i+1)); [ $i -gt 200 ] && return 1; sleep 0.05; done
  PORT=$(head -1 "$pf")
}
# start_accept DATA_DIR [rgs-verify options...]: accept_on with -c 64
start_accept() {
  local dd=$1; shift
  accept_on "$dd" -c 64 -- "$@"
}

# start_socat DATA_DIR [rgs-verify options...]: socat in front of rgs-verify,
# the way rgs-server runs it; sets SOCAT_PID and PORT.
start_socat() {
  local dd=$1; shift
  PORT=$(free_port)
  local cmd=rgs-verify
  [ $# -gt 0 ] && cmd="rgs-verify $*"
  RELAY_GIT_DATA_DIR=$dd socat TCP-LISTEN:"$PORT",bind=127.0.0.1,reuseaddr,fork,max-children=64 \
    EXEC:"$cmd",nofork 2>>"$RGS_TMP/server.log" &
  SOCAT_PID=$!
  wait_port "$PORT"
}

# spool_records DATA_DIR: every record waiting in the spool, one per line
# (the open batch log, rotated logs and single-entry files; rgs_spool.h)
spool_records() {
  local f
  for f in "$1"/spool/log/current "$1"/spool/new/* "$1"/spool/cur/*; do
    case $f in *.done|*.reason) continue ;; esac
    [ -f "$f" ] && grep -v '^$' "$f"
  done
  return 0
}
# spooled DATA_DIR: how many records wait in the spool
spooled() { spool_records "$1" | wc -l; }

# logged PATTERN [MIN]: wait (up to 5 s) until $RGS_TMP/server.log has at
# least MIN (default 1) lines matching PATTERN (grep); 1 if it never does
logged() {
  local i n
  for i in $(seq 1 100); do
    n=$(grep -c -- "$1" "$RGS_TMP/server.log" 2>/dev/null)
    [ "${n:-0}" -ge "${2:-1}" ] && return 0
    sleep 0.05
  done
  return 1
}

# status_of CURL_ARGS...: the HTTP status curl gets (000 on failure)
status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$@"; }
