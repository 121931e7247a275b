#!/usr/bin/env bash
# rgs-sync against the Relay stand-in and real bare Git remotes: a one-shot
# sync of a folder ends with the folder's files on the remote (byte for byte
# against the stand-in's export); --folder-id limits the run to one folder;
# --dry-run changes nothing; a push that fails (remote unreachable) makes the
# exit status non-zero; 0 only when everything synced and was pushed.
. "$(dirname "$0")/../lib.sh"
. "$RGS_ROOT/tests/standin/lib.sh"
cd "$RGS_TMP"
R=3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
F=4b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e
G=5c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f   # configured, unknown to Relay
TOKEN=sync-test-token

vault=$RGS_TMP/vault
mkdir -p "$vault/Teams" "$vault/Attachments"
cp "$VAULT/Startseite.md" "$VAULT/Hilfe und Support.md" "$vault/"
cp "$(find "$VAULT/Teams" -name '*.md' | head -1)" "$vault/Teams/"
cp "$VAULT/Attachments/Engelbart.jpg" "$vault/Attachments/"
SI_PID=
trap 'kill $SI_PID 2>/dev/null; wait 2>/dev/null; _t_cleanup' EXIT
standin_start standin --vault "$vault" --relay "$R" --folder "$F" --token "$TOKEN"
export RELAY_SERVER_URL RELAY_SERVER_API_KEY=$TOKEN RGS_CANVAS_FORMAT=obsidian
RELAY_SERVER_URL=${SI_URL:-}
unset SSH_PRIVATE_KEY WEBHOOK_SECRET
curl -fsS --max-time 30 -H 'Content-Type: application/json' --data "$(jq -cn --arg d "$RGS_TMP/expected" '{dir:$d}')" \
  "$RELAY_SERVER_URL/_control/export" >/dev/null
nfiles=$(find "$RGS_TMP/expected" -type f | wc -l)

connector() { # folder url
  printf '[[git_connector]]\nshared_folder_id = "%s"\nrelay_id = "%s"\nurl = "%s"\nbranch = "main"\n\n' "$1" "$R" "$2"
}
commits() { git --git-dir="$1" rev-list --count main 2>/dev/null || echo 0; }
same_tree() { # bare-remote: its main equals the stand-in's export
  rm -rf "$RGS_TMP/clone"
  git clone -q "$1" "$RGS_TMP/clone" 2>/dev/null || return 1
  rm -rf "$RGS_TMP/clone/.git"
  diff -r "$RGS_TMP/expected" "$RGS_TMP/clone" >"$RGS_TMP/tree.diff" 2>&1 || { head -5 "$RGS_TMP/tree.diff" | sed 's/^/# /'; return 1; }
}
sync() { # data-dir args...: status in $st, stdout in $RGS_TMP/out, stderr in $RGS_TMP/err
  local dd=$1; shift
  st=0
  rgs-sync --data-dir "$dd" --relay-id "$R" "$@" >"$RGS_TMP/out" 2>"$RGS_TMP/err" || st=$?
  [ -n "${DEBUG:-}" ] && { echo "== $*: $st"; cat "$RGS_TMP/out" "$RGS_TMP/err"; } >&2
}

# --- dry run: plans every file, writes nothing
D=$RGS_TMP/dry
mkdir -p "$D"; git init -q --bare -b main "$RGS_TMP/dry.git"
connector "$F" "$RGS_TMP/dry.git" >"$D/git_connectors.toml"
sync "$D" --folder-id "$F" --dry-run
t_is "--dry-run: exit 0" "$st" 0
t_is "--dry-run: one planned write per file of the folder" "$(grep -c '^write' "$RGS_TMP/out")" "$nfiles"
t_ok "--dry-run: before the first sync, says the plan is against an empty tree" grep -q "no local repository yet" "$RGS_TMP/err"
t_ok "--dry-run: the plan names the files" grep -q "Teams/" "$RGS_TMP/out"
t_ok "--dry-run: says nothing was changed" grep -q "nothing was changed" "$RGS_TMP/err"
t_is "--dry-run: no commit on the remote" "$(commits "$RGS_TMP/dry.git")" 0
t_is "--dry-run: no file of the folder written anywhere in the data directory" \
  "$(find "$D" -type f \( -name 'Startseite.md' -o -name 'Engelbart.jpg' -o -name 'Hilfe und Support.md' \) | wc -l)" 0

# --- one folder: synced and pushed, exit 0; the other folder left alone
D=$RGS_TMP/data
mkdir -p "$D"
git init -q --bare -b main "$RGS_TMP/f.git"; git init -q --bare -b main "$RGS_TMP/g.git"
{ connector "$F" "$RGS_TMP/f.git"; connector "$G" "$RGS_TMP/g.git"; } >"$D/git_connectors.toml"
sync "$D" --folder-id "$F"
t_is "--folder-id: exit 0 when the folder synced and pushed" "$st" 0
[ "$st" = 0 ] || sed 's/^/# /' "$RGS_TMP/err" | tail -10
t_ok "--folder-id: the remote holds the folder's files, byte for byte" same_tree "$RGS_TMP/f.git"
t_is "--folder-id: one commit" "$(commits "$RGS_TMP/f.git")" 1
t_is "--folder-id: the other folder's remote is untouched" "$(commits "$RGS_TMP/g.git")" 0
t_ok "--folder-id: the summary counts one folder, a commit, a push" \
  grep -qE "$R/$F: 1 folders, [0-9]+ files changed, 1 commits, 1 remotes up to date, 0 push failures, 0 failed" "$RGS_TMP/err"
n=$(sed -nE "s/.* ([0-9]+) files changed.*/\1/p" "$RGS_TMP/err")
t_ok "--folder-id: files changed ($n) cover the folder's $nfiles files" test "${n:-0}" -ge "$nfiles"
sync "$D" --folder-id "$F"
t_is "again: exit 0, nothing to do" "$st" 0
t_is "again: no new commit" "$(commits "$RGS_TMP/f.git")" 1

# --- the whole relay: every configured folder of it
sync "$D"
t_is "whole relay: exit 0" "$st" 0
t_ok "whole relay: both configured folders were synced" grep -qE "$R: 2 folders" "$RGS_TMP/err"
t_is "whole relay: the folder's remote unchanged" "$(commits "$RGS_TMP/f.git")" 1

# --- a remote that cannot be reached: the edit is committed, the push
# fails, exit non-zero; once it is back, the next run pushes and exits 0
curl -fsS --max-time 30 -H 'Content-Type: application/json' \
  --data '{"ops":[{"op":"type","path":"/Startseite.md","pos":"end","text":"\nOffline getippt.\n","user":"alice"}],"flush":true}' \
  "$RELAY_SERVER_URL/_control/edit" >/dev/null
mv "$RGS_TMP/f.git" "$RGS_TMP/f.git.away"
sync "$D" --folder-id "$F"
t_ok "unreachable remote: exit non-zero" test "$st" != 0
t_ok "unreachable remote: the push failure is reported" grep -q "1 push failures" "$RGS_TMP/err"
t_ok "unreachable remote: the edit is committed locally" \
  test "$(git -C "$D/repos/$R/$F" rev-list --count HEAD 2>/dev/null || echo 0)" = 2
mv "$RGS_TMP/f.git.away" "$RGS_TMP/f.git"
sync "$D" --folder-id "$F"
t_is "remote back: exit 0" "$st" 0
rm -rf "$RGS_TMP/expected"
curl -fsS --max-time 30 -H 'Content-Type: application/json' --data "$(jq -cn --arg d "$RGS_TMP/expected" '{dir:$d}')" \
  "$RELAY_SERVER_URL/_control/export" >/dev/null
t_ok "remote back: it holds the edit, byte for byte" same_tree "$RGS_TMP/f.git"
t_is "remote back: two commits" "$(commits "$RGS_TMP/f.git")" 2
# --- no stage inherits locks/worker.lock: an RGS_BINDIR whose rgs-commit
# and rgs-queue note the descriptors they were given (a git child that
# outlives a killed rgs-sync must not hold up rgs-server's batches)
spy=$RGS_TMP/spybin
mkdir -p "$spy"
for f in "$RGS_BIN"/*; do ln -s "$f" "$spy/"; done
for t in rgs-queue rgs-commit; do
  rm -f "$spy/$t"
  printf '#!/bin/sh\nfor fd in /proc/$$/fd/*; do readlink "$fd"; done >>"%s"\nexec "%s" "$@"\n' \
    "$RGS_TMP/stage.fds" "$RGS_BIN/$t" >"$spy/$t"
  chmod +x "$spy/$t"
done
rm -f "$RGS_TMP/stage.fds"
RGS_BINDIR=$spy sync "$D" --folder-id "$F"
t_is "spied run: exit 0" "$st" 0
t_ok "spied run: the stages ran (descriptors noted)" test -s "$RGS_TMP/stage.fds"
t_fails "no stage inherits locks/worker.lock" grep -F "/locks/worker.lock" "$RGS_TMP/stage.fds"
done_testing
