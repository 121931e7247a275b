#!/usr/bin/env bash
# The whole service under the Relay stand-in, over real HTTP (webhooks with a
# Bearer secret) and real SSH on loopback (sshd, strict host key checking):
# the first sync puts the vault on the remote byte for byte; each live edit
# becomes a commit within commit-interval + 5 s (+ 10 s in the sanitizer
# pass, RGS_SAN=1 from tests/check-all) with the expected author; a
# second instance on the same data directory refuses to run; SIGTERM commits
# and pushes what is pending and exits 0.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2elib.sh"
[ -x /usr/sbin/sshd ] || { skip "no sshd (openssh-server)"; done_testing; }
cd "$RGS_TMP"
COMMIT_INTERVAL=2
PORT=$(free_port)

t_ok "sshd on loopback" start_sshd
setup_remote "ssh://$(id -un)@127.0.0.1:$SSH_PORT$RGS_TMP/remote.git"
t_ok "stand-in with the sample vault" start_standin
GIT_TOKEN_GIT_EXAMPLE_ORG=e2e-host-token t_ok "rgs-server listens" start_server

# --- first sync: the vault, byte for byte
t_ok "first sync reaches the remote over SSH" wait_remote_change 0 120
clone=$RGS_TMP/first
git clone -q "$REMOTE" "$clone" && rm -rf "$clone/.git"
# Every file but the canvases is the vault's own file.  A canvas lives in
# Relay as Yjs maps, so its bytes are the export's (the plugin's format,
# RGS_CANVAS_FORMAT=obsidian): compared byte for byte with the stand-in's
# export and as JSON with the vault's file.
if diff -r -x '*.canvas' "$VAULT" "$clone" >first.diff 2>&1; then ok "remote tree = the vault, byte for byte ($(find "$VAULT" -type f ! -name '*.canvas' | wc -l) files besides canvases)"
else notok "remote tree = the vault, byte for byte"; head -20 first.diff | sed 's/^/# /'; fi
remote_equals_relay "remote tree = Relay's export byte for byte, canvases included"
for c in "$VAULT"/*.canvas; do
  n=$(basename "$c")
  norm='{nodes: (.nodes // []), edges: (.edges // [])}'
  t_is "canvas $n has the vault's nodes and edges" "$(jq -cS "$norm" "$clone/$n")" "$(jq -cS "$norm" "$c")"
done
t_is "first commit is the service's identity" \
  "$(git --git-dir="$REMOTE" log -1 --format='%an <%ae>' main)" "Relay Git Sync <relay-git-sync@localhost>"
t_ok "the deploy key never reached the log" bash -c "! grep -q 'PRIVATE KEY' '$RGS_TMP/server.log'"
# live edits start from a settled service: nothing left of the first sync
t_ok "quiet after the first sync" wait_quiet 120

# --- live edits: one commit each, within commit-interval + 5 s, right author.
# Under ASan/UBSan (tests/check-all exports RGS_SAN=1 for that pass) every
# stage runs 2-5x slower (one edit took 3.2 s on a quiet machine): 10 s more.
BUDGET=$((COMMIT_INTERVAL + 5))
[ "${RGS_SAN:-0}" != 0 ] && BUDGET=$((BUDGET + 10))
live() { # user expected-author description json-op check-cmd...
  local user=$1 author=$2 what=$3 op=$4; shift 4
  local before t0 t1
  before=$(remote_commits)
  t0=$(date +%s.%N)
  edit "$user" "$op" || { notok "$what: the stand-in refused the edit"; return; }
  if wait_remote_change "$before" "$BUDGET"; then
    t1=$(date +%s.%N)
    ok "$what: committed and pushed within $BUDGET s ($(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s)"
  else
    notok "$what: committed and pushed within $BUDGET s"
    tail -5 "$RGS_TMP/server.log" | sed 's/^/# /'
    wait_remote_change "$before" 30
  fi
  local got
  got=$(git --git-dir="$REMOTE" log -1 --format='%an <%ae>' main)
  t_is "$what: author" "$got" "$author"
  if [ "$got" != "$author" ]; then # what came in, for the log
    git --git-dir="$REMOTE" log -3 --stat=100 --format='# %h %ad %an: %s' main | sed 's/^ /#  /'
    grep -v '^$' "$RGS_TMP/server.log" | tail -8 | sed 's/^/# /'
  fi
  [ $# -gt 0 ] && t_ok "$what: content" "$@"
}
show() { git --git-dir="$REMOTE" show "main:$1" 2>/dev/null; }
has() { git --git-dir="$REMOTE" cat-file -e "main:$1" 2>/dev/null; }
ALICE="Alice Beispiel <alice@example.org>" BOB="Bob Muster <bob@example.org>"

live alice "$ALICE" "typed paragraph" \
  '{"op":"type","path":"/Startseite.md","pos":"end","text":"\n\nEin neuer Absatz – getippt in Relay. 😀\n"}' \
  bash -c "git --git-dir='$REMOTE' show main:Startseite.md | tail -1 | grep -q 'getippt in Relay. 😀'"
live bob "$BOB" "rename" '{"op":"rename","from":"/Hilfe und Support.md","to":"/Hilfe & Support.md"}' \
  bash -c "! git --git-dir='$REMOTE' cat-file -e 'main:Hilfe und Support.md' 2>/dev/null && git --git-dir='$REMOTE' cat-file -e 'main:Hilfe & Support.md'"
t_ok "rename recorded as a rename (same blob)" bash -c \
  "git --git-dir='$REMOTE' show --stat -M --format= main | grep -q 'Hilfe und Support.md => Hilfe & Support.md'"
n_teams=$(find "$VAULT/Teams" -type f | wc -l)
live alice "$ALICE" "folder move" '{"op":"rename","from":"/Teams","to":"/Obsidian/Teams"}' \
  bash -c "[ \$(git --git-dir='$REMOTE' ls-tree -r --name-only main -- Obsidian/Teams | wc -l) = $n_teams ] && [ -z \"\$(git --git-dir='$REMOTE' ls-tree main -- Teams)\" ]"
live bob "$BOB" "deleted note" '{"op":"delete","path":"/Obsidian Sync/Headless Sync.md"}' \
  bash -c "! git --git-dir='$REMOTE' cat-file -e 'main:Obsidian Sync/Headless Sync.md' 2>/dev/null"
printf 'GIF89a\001\000\001\000\200\000\000\000\000\000\377\377\377!\371\004\001\000\000\000\000,\000\000\000\000\001\000\001\000\000\002\002D\001\000;' >"$RGS_TMP/pixel.gif"
live alice "$ALICE" "new image" "$(jq -cn --arg f "$RGS_TMP/pixel.gif" '{op:"create",path:"/Attachments/pixel.gif",file:$f}')" \
  bash -c "git --git-dir='$REMOTE' show main:Attachments/pixel.gif | cmp -s - '$RGS_TMP/pixel.gif'"
live bob "$BOB" "canvas card edited" \
  '{"op":"canvas","path":"/Projektplan.canvas","card_text":{"e5f6071829304152":"Offene Fragen:\n- Zeitplan? Geklärt.\n- Budget (€)?"}}' \
  bash -c "git --git-dir='$REMOTE' show main:Projektplan.canvas | jq -e '.nodes[] | select(.id == \"e5f6071829304152\") | .text | test(\"Geklärt\")' >/dev/null"
remote_equals_relay "after the live edits, the remote equals Relay byte for byte"

# --- secrets reach only the programs that need them: the listener (and so
# every rgs-verify it starts) has the webhook secret but not the Relay key
lpid=$(pgrep -g "$SERVER_PGID" -x socat | head -1)
if [ -n "$lpid" ]; then
  t_ok "listener has the webhook secret" grep -qz "^WEBHOOK_SECRET=$E2E_SECRET\$" "/proc/$lpid/environ"
  t_ok "listener does not have the Relay API key" bash -c "! grep -qz '^RELAY_SERVER_API_KEY=' /proc/$lpid/environ"
  t_ok "listener does not have the private deploy key" bash -c "! grep -qaz 'PRIVATE KEY' /proc/$lpid/environ"
  t_ok "listener does not have a per-host git token" bash -c "! grep -qz '^GIT_TOKEN_' /proc/$lpid/environ"
else
  notok "listener process found"
fi

t_is "/api/pubkey = ssh-keygen -y of the deploy key" \
  "$(curl -fsS --max-time 5 "http://127.0.0.1:$PORT/api/pubkey" | jq -r '.public_key + " " + .key_type')" \
  "$(ssh-keygen -y -f "$RGS_TMP/sshd/deploy" | cut -d' ' -f1-2) ssh-ed25519"

# --- a second instance on the same data directory refuses
rc=0; out=$(RELAY_SERVER_URL=$RELAY_URL RELAY_SERVER_API_KEY=$E2E_TOKEN WEBHOOK_SECRET=$E2E_SECRET \
  rgs-server --data-dir "$DATA" --port "$(free_port)" --bind 127.0.0.1 2>&1) || rc=$?
t_is "second instance exits 111" "$rc" 111
t_ok "and says why" grep -q "another rgs-server is running" <<<"$out"
t_ok "first instance still serves /health" bash -c "curl -fsS --max-time 5 http://127.0.0.1:$PORT/health | jq -e '.status == \"healthy\"' >/dev/null"

# --- SIGTERM: what was written but not yet committed is committed and pushed
before=$(remote_commits)
edit alice '{"op":"type","path":"/Startseite.md","pos":0,"text":"Letzte Änderung vor dem Stopp.\n"}'
sleep 0.5
kill -TERM "$SERVER_PID"
rc=0; wait "$SERVER_PID" || rc=$?
SERVER_PGID=""
t_is "SIGTERM: exit 0" "$rc" 0
t_ok "SIGTERM: the last edit was committed and pushed before exit" \
  bash -c "git --git-dir='$REMOTE' show main:Startseite.md | head -1 | grep -q 'Letzte Änderung vor dem Stopp.'"
remote_equals_relay "after the stop, the remote equals Relay"
t_ok "no secret in the server log" bash -c "! grep -qE '$E2E_SECRET|$E2E_TOKEN' '$RGS_TMP/server.log'"
done_testing
