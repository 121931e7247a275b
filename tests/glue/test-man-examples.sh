#!/usr/bin/env bash
# The examples of rgs(7) ("RUNNING THE STAGES BY HAND") run as written
# against the Relay stand-in and a local remote, and do what the page says.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../e2e/e2elib.sh"
cd "$RGS_TMP"
PORT=$(free_port)                # no server: webhooks from the stand-in go nowhere
start_standin
setup_remote "$RGS_TMP/remote.git"
export RELAY_GIT_DATA_DIR=$DATA RELAY_SERVER_URL=$RELAY_URL RELAY_SERVER_API_KEY=$E2E_TOKEN
R=$E2E_RELAY F=$E2E_FOLDER
rgs-commit --prepare 2>/dev/null

# Fetch one document
curl -sH "Authorization: Bearer $RELAY_SERVER_API_KEY" "$RELAY_SERVER_URL/d/$R-$F/as-update" >folder.bin
t_ok "fetch one document: rgs-ydoc shows filemeta_v0 and docs" bash -c \
  "rgs-ydoc -m filemeta_v0 -m docs folder.bin | jq -e '(.filemeta_v0 | length) > 300 and (.docs | length) > 100' >/dev/null"
note=$(rgs-ydoc -m docs folder.bin | jq -r '.docs["/Startseite.md"]')
curl -sH "Authorization: Bearer $RELAY_SERVER_API_KEY" "$RELAY_SERVER_URL/d/$R-$note/as-update" >note.bin
rgs-ydoc -t contents note.bin | jq -j .contents >note.md
t_diff "a note's text is root contents" note.md "$VAULT/Startseite.md"

# Snapshot a folder as the pipeline sees it
rgs-queue --reconcile $R/$F --no-spool | rgs-fetch >snap.ndjson
t_is "snapshot: the folder's entries" "$(jq -c 'select(.type == "folder") | .entries | length' snap.ndjson)" \
  "$(rgs-ydoc -m filemeta_v0 folder.bin | jq '.filemeta_v0 | length')"
t_ok "snapshot: doc records" bash -c "[ \$(jq -c 'select(.type == \"doc\") | {doc, kind, sha256}' snap.ndjson | wc -l) -gt 100 ]"

# Plan without applying
rgs-plan <snap.ndjson | rgs-fetch >ops.ndjson
t_ok "plan: ops listed" bash -c "jq -r 'select(.type == \"op\") | \"\(.op) \(.path)\"' ops.ndjson | grep -q '^write Startseite.md$'"
t_is "plan: nothing held or refused" "$(jq -c 'select(.type == "held" or .type == "refused")' ops.ndjson)" ""
rgs-apply -n <ops.ndjson >dry.ndjson
t_is "rgs-apply -n changes nothing" "$(find "$DATA/repos/$R/$F" -path '*/.git' -prune -o -type f -print | wc -l)" 0

# Apply, then commit and push now
rgs-apply <ops.ndjson >applied.ndjson
(cat applied.ndjson; echo '{"v":1,"type":"tick","time":'$(date +%s)',"final":true}') |
  rgs-commit | jq -c 'select(.type == "commit" or .type == "push")' >cp.ndjson
t_is "commit and push records" "$(jq -r .type cp.ndjson | tr '\n' ' ')" "commit push "
t_is "pushed" "$(jq -r 'select(.type=="push") | .result' cp.ndjson)" ok
t_ok "the remote has the vault's notes" bash -c "git --git-dir='$REMOTE' show main:Startseite.md | cmp -s - '$VAULT/Startseite.md'"

# Replay a spool: what the next batch would do, without changing anything
mkdir -p "$DATA/spool/new"
printf '{"v":1,"type":"webhook","relay":"%s","resource":"%s","doc_id":"%s-%s","received":1}\n' "$R" "$note" "$R" "$note" \
  >"$DATA/spool/new/1772000000.000000001.1.0"
edit alice '{"op":"type","path":"/Startseite.md","pos":0,"text":"Neu: "}'
rgs-queue -n | rgs-fetch | rgs-plan | jq -c 'select(.type != "doc")' >next.ndjson
t_ok "replay: the next batch would write the edited note" bash -c \
  "jq -r 'select(.type == \"op\") | \"\(.op) \(.path)\"' next.ndjson | grep -q '^write Startseite.md$'"
t_ok "replay -n left the webhook in the spool" test -f "$DATA/spool/new/1772000000.000000001.1.0"
t_ok "look at a repository: log" git -C "$DATA/repos/$R/$F" log --stat -3 --format=%s
t_ok "document_hashes.json counts the notes" bash -c "[ \$(jq length '$DATA/state/$R/document_hashes.json') -gt 100 ]"
done_testing
