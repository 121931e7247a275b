#!/usr/bin/env bash
# Crash safety: webhooks stream in over keep-alive connections; at a random
# moment every server process (the listener and every rgs-verify) gets
# SIGKILL.  Every event that was answered 200 must be in the spool, whole.
# Rounds with rgs-accept and with socat; RGS_SEED makes the moments repeatable.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-intake.sh"
RANDOM=${RGS_SEED:-$$}
export WEBHOOK_SECRET=s3cret-$RANDOM

round() { # LISTENER N
  local l=$1 r=$2 dd=$RGS_TMP/$1-$2 acked=$RGS_TMP/acked-$1-$2 pid
  : >"$acked"
  if [ "$l" = accept ]; then start_accept "$dd"; pid=$ACCEPT_PID; else start_socat "$dd"; pid=$SOCAT_PID; fi
  node "$RGS_ROOT/tests/intake/crash-client.js" "$PORT" "$WEBHOOK_SECRET" "$acked" 8 &
  local client=$!
  # once the first acknowledgements arrived, wait a random 0..1.2 s
  local i=0; while [ ! -s "$acked" ] && [ $i -lt 400 ]; do sleep 0.025; i=$((i+1)); done
  local ms=$((RANDOM % 1200))
  sleep "$(printf '0.%03d' $((ms % 1000)))"; [ $ms -ge 1000 ] && sleep 1
  # SIGKILL the listener and all its handlers at once (by process id)
  kill -9 "$pid" $(pgrep -P "$pid") 2>/dev/null
  wait "$pid" 2>/dev/null
  wait "$client"
  local n_acked; n_acked=$(sort -u "$acked" | wc -l)
  # what the spool holds: every line of every spool file (batch logs and
  # single entries) must be a whole record, except that the writer killed
  # in the middle of its write(2) (a write crossing a page boundary can be
  # cut by SIGKILL) leaves one torn line: writers append under an exclusive
  # lock, so there is at most one, at the very end of a log with no "\n"
  # after it, and it was never answered (the "in the spool" check below
  # would catch an acknowledged event whose line is torn).
  node -e '
    const fs = require("fs"), s = process.argv[1] + "/spool";
    let bad = 0, torn = 0, ids = [];
    for (const sub of ["log", "new", "cur"]) {
      const d = s + "/" + sub;
      for (const f of fs.existsSync(d) ? fs.readdirSync(d) : []) {
        if (f.endsWith(".done") || f.endsWith(".reason")) continue;
        const lines = fs.readFileSync(d + "/" + f, "utf8").split("\n");
        lines.forEach((line, i) => {
          if (!line) return;
          try { const r = JSON.parse(line); if (r.type !== "webhook") throw 0; ids.push(r.event_id); }
          catch { if (i === lines.length - 1 && sub === "log" && line.startsWith("{")) torn++; else bad++; }
        });
      }
    }
    fs.writeFileSync(process.argv[2], ids.join("\n") + "\n");
    console.log(bad, torn);' "$dd" "$RGS_TMP/spooled" >"$RGS_TMP/bad"
  local bad torn; read -r bad torn <"$RGS_TMP/bad"
  local missing; missing=$(sort -u "$acked" | comm -23 - <(sort -u "$RGS_TMP/spooled") | wc -l)
  t_ok "$l round $r: killed ${ms} ms after the first acknowledgement, with $n_acked acknowledged" test "$n_acked" -gt 0
  t_is "$l round $r: every acknowledged event is in the spool" "$missing" 0
  t_is "$l round $r: every spooled line is a whole record (but a torn end of the log)" "$bad" 0
  t_ok "$l round $r: at most one torn line, the unanswered write cut by the kill (saw $torn)" test "$torn" -le 1
  t_is "$l round $r: no event spooled twice" "$(sort "$RGS_TMP/spooled" | uniq -d | grep -c .)" 0
}
for r in 1 2 3; do round accept $r; done
for r in 1 2; do round socat $r; done
done_testing
