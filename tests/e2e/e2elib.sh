# End-to-end helpers: a real sshd on 127.0.0.1 hosting a bare repository,
# the Relay stand-in with the sample vault, rgs-server in its own process
# group (so a test can kill -9 the whole service), and comparisons of the
# remote with what Relay holds.  Source after tests/lib.sh.

. "$RGS_ROOT/tests/sshd.sh"
. "$RGS_ROOT/tests/standin/lib.sh"

E2E_RELAY=2c4e6a8b-1d3f-4a5b-9c7d-e0f1a2b3c4d5
E2E_FOLDER=7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2f1e
E2E_TOKEN=e2e-relay-token
E2E_SECRET=e2e-webhook-secret
E2E_PIDS=()

e2e_cleanup() {
  local p
  [ -n "${SERVER_PGID:-}" ] && kill -9 -- "-$SERVER_PGID" 2>/dev/null
  for p in "${E2E_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  _t_cleanup
}
trap e2e_cleanup EXIT

# start_sshd: sshd on a free port with a fresh host key, accepting the
# deploy key; sets SSH_PORT, SSH_KNOWN_HOSTS, SSH_PRIVATE_KEY, SSHD_PID.
start_sshd() {
  local d=$RGS_TMP/sshd
  mkdir -p "$d"
  if [ ! -f "$d/hostkey" ]; then
    ssh-keygen -q -t ed25519 -N '' -C e2e-host -f "$d/hostkey"
    ssh-keygen -q -t ed25519 -N '' -C e2e-deploy -f "$d/deploy"
    cp "$d/deploy.pub" "$d/authorized_keys"
    SSH_PORT=$(free_port)
  fi
  sshd_start "$d" "$SSH_PORT" "$d/hostkey" "$d/authorized_keys" || return 1
  E2E_PIDS+=("$SSHD_PID")
  export SSH_KNOWN_HOSTS="[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1-2 "$d/hostkey.pub")"
  export SSH_PRIVATE_KEY="$(cat "$d/deploy")"
}
stop_sshd() { kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null; }

# start_standin [extra args]: the stand-in with the sample vault
# (standin_start, stderr in $RGS_TMP/standin.err); sets RELAY_URL (and the
# SI_* variables).  Webhooks go to the server's port $PORT.
start_standin() {
  local rc=0
  standin_start standin --vault "$VAULT" \
    --relay "$E2E_RELAY" --folder "$E2E_FOLDER" --token "$E2E_TOKEN" \
    --webhook-url "http://127.0.0.1:$PORT/webhooks" --webhook-token "$E2E_SECRET" \
    --webhook-timeout-ms 2000 "$@" || rc=1
  E2E_PIDS+=("$SI_PID")
  [ $rc = 0 ] || return 1
  RELAY_URL=$SI_URL
  [ -n "$RELAY_URL" ] && [ "$RELAY_URL" != null ]
}

# setup_remote URL: the bare repository and the connector file
setup_remote() {
  REMOTE=$RGS_TMP/remote.git
  DATA=$RGS_TMP/data
  mkdir -p "$DATA"
  git init -q --bare -b main "$REMOTE"
  cat >"$DATA/git_connectors.toml" <<EOF
[[git_connector]]
shared_folder_id = "$E2E_FOLDER"
relay_id = "$E2E_RELAY"
url = "$1"
branch = "main"

[authors]
alice = "Alice Beispiel <alice@example.org>"
bob = "Bob Muster <bob@example.org>"
EOF
}

# start_server [extra rgs-server args]: rgs-server in a new session (its own
# process group, id in SERVER_PGID); stderr appended to $RGS_TMP/server.log
start_server() {
  RELAY_SERVER_URL=$RELAY_URL RELAY_SERVER_API_KEY=$E2E_TOKEN WEBHOOK_SECRET=$E2E_SECRET \
    RELAY_GIT_DATA_DIR=$DATA RGS_CANVAS_FORMAT=${RGS_CANVAS_FORMAT:-obsidian} \
    setsid rgs-server --port "$PORT" --bind 127.0.0.1 --commit-interval "$COMMIT_INTERVAL" "$@" \
    2>>"$RGS_TMP/server.log" &
  SERVER_PID=$!
  SERVER_PGID=$SERVER_PID
  wait_port "$PORT" 20
}
# kill9_server: kill -9 of the server's whole process group; then wait (at
# most 30 s) until nothing holds locks/server.lock any more: a child that
# left the group (a git or ssh in a session of its own) may still hold the
# inherited descriptor for a moment, and a new rgs-server would refuse to
# start (exit 111).  Returns 1 (with a diagnostic) when it is still held.
kill9_server() {
  kill -9 -- "-$SERVER_PGID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PGID=""
  [ -n "${DATA:-}" ] && [ -e "$DATA/locks/server.lock" ] || return 0
  flock -w 30 "$DATA/locks/server.lock" true && return 0
  diag "kill9_server: locks/server.lock still held 30 s after kill -9 of the group:"
  fuser -v "$DATA/locks/server.lock" 2>&1 | sed 's/^/#   /'
  return 1
}

# spool_depth: webhooks waiting or in progress (batch log lines count)
spool_depth() {
  local n
  n=$(find "$DATA/spool/new" "$DATA/spool/cur" -type f ! -name '*.done' 2>/dev/null | wc -l)
  [ -s "$DATA/spool/log/current" ] && n=$((n + 1))
  echo "$n"
}
remote_commits() { git --git-dir="$REMOTE" rev-list --count main 2>/dev/null || echo 0; }
# wait_remote_change N SECONDS: until the remote has more than N commits
wait_remote_change() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    [ "$(remote_commits)" -gt "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
# worker_idle SECONDS: wait (at most SECONDS, at least 1) until no batch
# runs: rgs-server holds locks/worker.lock for the whole pipeline of a batch
# (flock(1) takes the lock for a moment, which only delays the next batch)
worker_idle() {
  local t=$1
  [ "$t" -ge 1 ] || t=1
  [ -n "${DATA:-}" ] && [ -e "$DATA/locks/worker.lock" ] || return 0
  flock -w "$t" "$DATA/locks/worker.lock" true
}
# quiet_state: "REMOTE-MAIN LOCAL-HEAD SPOOL-DEPTH" now
quiet_state() {
  echo "$(git --git-dir="$REMOTE" rev-parse main 2>/dev/null)" \
    "$(git -C "$DATA/repos/$E2E_RELAY/$E2E_FOLDER" rev-parse HEAD 2>/dev/null)" "$(spool_depth)"
}
# wait_quiet SECONDS: until the spool is empty, the work repository's HEAD
# is the remote's main, and that has not changed for 3 commit intervals (+2 s)
# counted from a moment when no batch ran (a batch without a spool entry,
# such as the start-up reconcile of every file, shows in neither the spool
# nor HEAD while it runs, and what it applied is committed up to a commit
# interval later), and no batch runs at the end either; at most SECONDS
wait_quiet() {
  local end=$((SECONDS + $1)) need=$((COMMIT_INTERVAL * 2 * 3 + 4)) last="" cur same=0 r l d
  while [ "$SECONDS" -lt "$end" ]; do
    cur=$(quiet_state)
    read -r r l d <<<"$cur"
    if [ "$cur" != "$last" ] || [ -z "$r" ] || [ "$r" != "$l" ] || [ "$d" != 0 ]; then
      same=0  # not settled, or changed since the last look
    elif [ "$same" = 0 ]; then
      # open the window only once every batch that was running has ended
      worker_idle $((end - SECONDS)) || return 1
      cur=$(quiet_state)
      [ "$cur" = "$last" ] && same=1
    else
      same=$((same + 1))
    fi
    last=$cur
    if [ "$same" -ge "$need" ]; then
      # and close it with no batch half done: the state after it is the same
      worker_idle $((end - SECONDS)) || return 1
      [ "$(quiet_state)" = "$last" ] && return 0
      same=0
    fi
    sleep 0.5
  done
  return 1
}

# control PATH-AFTER-/_control JSON: call the stand-in's control interface
control() { curl -fsS --max-time 120 -H 'Content-Type: application/json' --data "$2" "$RELAY_URL/_control/$1"; }
edit() { # user json-op
  control edit "$(jq -cn --arg u "$1" --argjson op "$2" '{ops:[$op + {user:$u}], flush:true}')" >/dev/null
}

# remote_equals_relay NAME: the remote's tree equals what Relay holds now,
# byte for byte (canvases in the format the server writes: obsidian here)
remote_equals_relay() {
  local exp=$RGS_TMP/expected.$RANDOM clone=$RGS_TMP/clone.$RANDOM
  control export "$(jq -cn --arg d "$exp" '{dir:$d}')" >/dev/null || { notok "$1 (export failed)"; return; }
  git clone -q "$REMOTE" "$clone" 2>/dev/null || { notok "$1 (clone failed)"; return; }
  rm -rf "$clone/.git"
  if diff -r "$exp" "$clone" >"$RGS_TMP/tree.diff" 2>&1; then ok "$1"
  else notok "$1"; head -20 "$RGS_TMP/tree.diff" | sed 's/^/# /'; fi
}
