# Helpers for tests that use the Relay stand-in.  Source after tests/lib.sh.
#   standin_start NAME [standin options...]
#     starts tests/standin/standin.js in the background (killed at exit by
#     tests/lib.sh), waits for its ready line and sets
#     SI_PID SI_PORT SI_URL SI_RELAY SI_FOLDER SI_TOKEN (prefix: NAME is only
#     used for the log files $RGS_TMP/NAME.ready and NAME.err).
#   si_post PATH JSON      POST to the control interface, print the answer
#   si_get PATH            GET from the control interface
standin_start() {
  local name=$1 i=0
  shift
  node "$RGS_ROOT/tests/standin/standin.js" "$@" >"$RGS_TMP/$name.ready" 2>"$RGS_TMP/$name.err" &
  SI_PID=$!
  while [ ! -s "$RGS_TMP/$name.ready" ]; do
    i=$((i + 1))
    if [ $i -gt 600 ] || ! kill -0 "$SI_PID" 2>/dev/null; then
      echo "# stand-in did not start:" >&2; sed 's/^/# /' "$RGS_TMP/$name.err" >&2; return 1
    fi
    sleep 0.05
  done
  SI_PORT=$(jq -r .port "$RGS_TMP/$name.ready")
  SI_URL=$(jq -r .url "$RGS_TMP/$name.ready")
  SI_RELAY=$(jq -r .relay "$RGS_TMP/$name.ready")
  SI_FOLDER=$(jq -r .folder "$RGS_TMP/$name.ready")
  SI_TOKEN=$(jq -r .token "$RGS_TMP/$name.ready")
  SI_CTL=$SI_URL/_control
}
si_post() { curl -sk -XPOST "$SI_CTL/$1" -d "$2"; }
si_get() { curl -sk "$SI_CTL/$1"; }
