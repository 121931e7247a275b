#!/usr/bin/env bash
# rgs-commit against the real git CLI on local bare repositories: journal,
# interval, staging exactly the journal's paths, messages and authors,
# pushes, unreachable remotes, config checks.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/gitlib.sh"
cd "$RGS_TMP"

# --- configuration checks
D=$RGS_TMP/d1; new_data "$D"
t_status "check-config: no file is fine" 0 rgs-commit -d "$D" --check-config
printf '[[git_connector]]\nrelay_id = "nope"\n' >"$D/git_connectors.toml"
t_status "check-config: bad file is 100" 100 rgs-commit -d "$D" --check-config
t_ok "check-config: message names file, line, key" \
  grep -q "git_connectors.toml:2: relay_id: 'nope' is not a UUID" <(rgs-commit -d "$D" --check-config 2>&1)
t_status "bad usage is 100" 100 rgs-commit --commit-interval x
t_ok "--help" bash -c 'rgs-commit --help | grep -q -- --prepare'

# --- prepare: empty remote -> init with the branch; remote with branch -> clone
D=$RGS_TMP/d2; new_data "$D"
bare_with "$RGS_TMP/empty.git"
bare_with "$RGS_TMP/full.git" "README.md=remote readme" "notes/old.md=old"
git -C "$RGS_TMP/full.git" branch -q trunk main
{ connector $FOLDER "$RGS_TMP/empty.git" 'branch = "trunk"' 'prefix = "notes"'
  connector $FOLDER2 "$RGS_TMP/full.git" 'branch = "trunk"' 'remote_name = "upstream"' 'prefix = "notes"'; } >"$D/git_connectors.toml"
t_status "prepare: all ready" 0 rgs-commit -d "$D" --prepare
R1=$(repo_of "$D"); R2=$(repo_of "$D" $FOLDER2)
t_is "empty remote: initialised on the configured branch" "$(git -C "$R1" symbolic-ref HEAD)" "refs/heads/trunk"
t_fails "empty remote: no commit yet (no unrelated history)" git -C "$R1" rev-parse -q --verify HEAD
t_is "remote with the branch: cloned, same history" "$(git -C "$R2" rev-parse HEAD)" "$(git -C "$RGS_TMP/full.git" rev-parse trunk)"
t_is "clone uses remote_name" "$(git -C "$R2" remote)" "upstream"
t_is "clone is on the configured branch" "$(git -C "$R2" symbolic-ref --short HEAD)" "trunk"
t_status "prepare again is harmless" 0 rgs-commit -d "$D" --prepare

# --- unreachable remote: left absent, retried, then cloned (never an unrelated init)
D=$RGS_TMP/d3; new_data "$D"
connector $FOLDER "$RGS_TMP/later.git" >"$D/git_connectors.toml"
t_status "prepare: unreachable remote is temporary (111)" 111 rgs-commit -d "$D" --prepare
t_fails "unreachable: no repository made" test -e "$(repo_of "$D")"
bare_with "$RGS_TMP/later.git" "README.md=hello"
t_status "prepare: reachable now" 0 rgs-commit -d "$D" --prepare
t_is "then cloned with the remote's history" "$(git -C "$(repo_of "$D")" rev-parse HEAD)" "$(git -C "$RGS_TMP/later.git" rev-parse main)"

# --- journal, interval, commit of exactly the journal's paths, push
D=$RGS_TMP/d4; new_data "$D"
bare_with "$RGS_TMP/r4.git" "README.md=readme" "notes/gone.md=bye" "notes/moved.md=moving"
{ connector $FOLDER "$RGS_TMP/r4.git" 'prefix = "notes"'
  printf '[authors]\nu1 = "Ada Lovelace <ada@example.org>"\nu2 = "Grace Hopper <grace@example.org>"\n'; } >"$D/git_connectors.toml"
rgs-commit -d "$D" --prepare
W=$(repo_of "$D")
mkdir -p "$W/notes/sub"; echo "new note" >"$W/notes/sub/a.md"; rm "$W/notes/gone.md"
git -C "$W" mv -k notes/moved.md notes/renamed.md 2>/dev/null || mv "$W/notes/moved.md" "$W/notes/renamed.md"
git -C "$W" reset -q                      # rgs-apply does not touch the index
echo "not from relay" >"$W/stray.txt"     # not in any applied record: must not be committed
{ applied notes/sub/a.md write 100 '["u1","u2","ghost"]'; applied notes/gone.md delete 101
  applied notes/renamed.md move 102 '["u2"]' $FOLDER notes/moved.md
  echo '{"v":1,"type":"event","ref":"ev:x","n":1}'; tick 105; } >in1
rgs-commit -d "$D" <in1 >out1 2>err1; rc=$?
t_is "before the interval: exit 0" "$rc" 0
t_is "every record passed through, in order" "$(jq -c . out1)" "$(jq -c . in1)"
t_is "before the interval: no commit" "$(count_type out1 commit)" 0
t_ok "journal written" test -s "$D/commit/$RELAY/$FOLDER.journal"
t_is "journal mode 0600" "$(stat -c %a "$D/commit/$RELAY/$FOLDER.journal")" 600
tick 111 | rgs-commit -d "$D" >out2 2>err2
t_is "after the interval: one commit" "$(count_type out2 commit)" 1
t_is "commit record: files (a move is two paths)" "$(jq -r 'select(.type=="commit") | .files' out2)" 4
t_ok "message Auto-sync: YYYY-MM-DD HH:MM:SS" grep -Eq '^Auto-sync: [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$' \
  <(git -C "$W" log -1 --format=%s)
t_is "author: first known editor" "$(git -C "$W" log -1 --format='%an <%ae>')" "Ada Lovelace <ada@example.org>"
t_is "co-author trailer for the second" "$(git -C "$W" log -1 --format='%(trailers:key=Co-authored-by,valueonly)' | sed '/^$/d')" "Grace Hopper <grace@example.org>"
t_is "committer: the service identity" "$(git -C "$W" log -1 --format='%cn <%ce>')" "Relay Git Sync <relay-git-sync@localhost>"
t_is "exactly the journal's paths changed" "$(git -C "$W" show --name-status --format= HEAD | sort | tr '\t' ' ')" \
  "$(printf 'A notes/sub/a.md\nD notes/gone.md\nR100 notes/moved.md notes/renamed.md' | sort)"
t_ok "stray file not committed" bash -c "git -C '$W' status --porcelain | grep -q '?? stray.txt'"
t_ok "index agrees with HEAD for committed paths" bash -c "[ -z \"\$(git -C '$W' diff --cached --name-only)\" ]"
t_is "pushed" "$(git -C "$RGS_TMP/r4.git" rev-parse main)" "$(git -C "$W" rev-parse HEAD)"
t_is "push record ok" "$(jq -r 'select(.type=="push") | .result' out2)" ok
t_ok "journal cleared" bash -c "! ls '$D/commit/$RELAY/' | grep -q journal"
t_is "status/push.json: result" "$(jq -r --arg k "$RELAY/$FOLDER" '.[$k].origin.result' "$D/status/push.json")" ok
tick 200 | rgs-commit -d "$D" >out3 2>/dev/null
t_is "nothing pending, up to date: no commit, no push" "$(count_type out3 commit)$(count_type out3 push)" "00"

# --- never an empty commit; unknown editors -> service identity; template
{ connector $FOLDER "$RGS_TMP/r4.git" 'prefix = "notes"'
  printf '[commit]\nmessage = "sync %%{files} file(s): %%{paths} at %%H:%%M UTC"\nmessage_utc = true\ncommitter_name = "Bot"\ncommitter_email = "bot@example.org"\n'; } >"$D/git_connectors.toml"
{ applied notes/sub/a.md write 300 '["nobody"]'; tick 400 true; } | rgs-commit -d "$D" >out4 2>/dev/null
t_is "unchanged file: no empty commit" "$(count_type out4 commit)" 0
echo "edited" >>"$W/notes/sub/a.md"
{ applied notes/sub/a.md write 300 '["nobody"]'; tick 301 true; } | rgs-commit -d "$D" >out5 2>/dev/null
t_is "final tick commits before the interval" "$(count_type out5 commit)" 1
t_is "template with counts, paths, UTC" "$(git -C "$W" log -1 --format=%s)" "sync 1 file(s): notes/sub/a.md at $(TZ=UTC git -C "$W" log -1 --date=format-local:%H:%M --format=%cd) UTC"
t_is "unknown editor: the service identity is the author" "$(git -C "$W" log -1 --format='%an <%ae>|%cn')" "Bot <bot@example.org>|Bot"

# --- unborn branch (empty remote): a journal naming only absent paths or a
# directory makes no root commit with an empty tree
D5=$RGS_TMP/d5; new_data "$D5"
bare_with "$RGS_TMP/r5.git"
connector $FOLDER "$RGS_TMP/r5.git" >"$D5/git_connectors.toml"
rgs-commit -d "$D5" --prepare
W5=$(repo_of "$D5"); mkdir -p "$W5/somedir/sub"
{ applied never/there.md write 10; applied gone.md delete 11; applied somedir write 12
  applied somedir/sub write 13; tick 99 true; } | rgs-commit -d "$D5" >out5e 2>err5e
t_is "unborn: absent paths and a directory make no commit record" "$(count_type out5e commit)" 0
t_fails "unborn: the branch is still unborn (no empty root commit)" git -C "$W5" rev-parse -q --verify HEAD
t_fails "unborn: nothing pushed to the empty remote" git -C "$RGS_TMP/r5.git" rev-parse -q --verify main
t_is "unborn: journal settled (nothing pending)" "$(ls "$D5/commit/$RELAY/" 2>/dev/null | grep -c journal)" 0
echo "first" >"$W5/first.md"
{ applied first.md write 20; tick 199 true; } | rgs-commit -d "$D5" >out5f 2>/dev/null
t_is "unborn: a real file then makes the root commit" "$(git -C "$W5" ls-tree --name-only HEAD)" "first.md"
t_is "unborn: and it is pushed" "$(git -C "$RGS_TMP/r5.git" rev-parse main)" "$(git -C "$W5" rev-parse HEAD)"

# --- remote unreachable, then back: commits made meanwhile arrive, in order
mv "$RGS_TMP/r4.git" "$RGS_TMP/r4.away"
for i in 1 2 3; do
  echo "v$i" >"$W/notes/seq.md"
  { applied notes/seq.md write $((1000 + i * 20)); tick $((1000 + i * 20 + 11)); } | rgs-commit -d "$D" --commit-interval 10 >"out6.$i" 2>/dev/null
done
tick 1033 | rgs-commit -d "$D" >out6.b 2>/dev/null
t_is "backoff: no push attempt before next_retry" "$(count_type out6.b push)" 0
t_is "three commits while unreachable" "$(cat out6.[0-9] | jq -r 'select(.type=="commit") | .commit' | wc -l)" 3
t_is "first failure reported as an error push record" "$(jq -r 'select(.type=="push") | .result' out6.1)" error
t_ok "push record has next_retry" test "$(jq -r 'select(.type=="push") | .next_retry' out6.1)" != null
t_is "status shows the error" "$(jq -r --arg k "$RELAY/$FOLDER" '.[$k].origin.result' "$D/status/push.json")" error
mv "$RGS_TMP/r4.away" "$RGS_TMP/r4.git"
tick 99999 | rgs-commit -d "$D" >out7 2>/dev/null
t_is "back: clean but ahead is pushed at the next tick" "$(jq -r 'select(.type=="push") | .result' out7)" ok
t_is "remote has every commit, in order" "$(git -C "$RGS_TMP/r4.git" log --format=%H -4 main)" "$(git -C "$W" log --format=%H -4 HEAD)"
t_is "contents in order" "$(git -C "$RGS_TMP/r4.git" log --reverse --format=%H -3 main | while read -r c; do git -C "$RGS_TMP/r4.git" show "$c:notes/seq.md"; done | tr '\n' ' ')" "v1 v2 v3 "

# --- bad paths in applied records are not committed
{ applied '../escape' write 1; applied 'a/.GIT/config' write 1; tick 2 true; } | rgs-commit -d "$D" >out8 2>/dev/null
t_is "bad paths: failed records, permanent" "$(jq -r 'select(.type=="failed") | .temporary' out8 | sort -u)" false
t_is "bad paths: still passed through" "$(count_type out8 applied)" 2

# --- dry run changes nothing
echo "dry" >"$W/notes/dry.md"
before=$(git -C "$W" rev-parse HEAD)
{ applied notes/dry.md; tick 5 true; } | rgs-commit -n -d "$D" >out9 2>/dev/null
t_is "dry run: no commit" "$(git -C "$W" rev-parse HEAD)" "$before"
t_ok "dry run: no journal" bash -c "! ls '$D/commit/$RELAY/' | grep -q journal"
t_ok "git fsck clean" git -C "$W" fsck --no-progress
done_testing
