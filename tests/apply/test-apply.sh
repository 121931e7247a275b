#!/usr/bin/env bash
# rgs-apply alone and behind rgs-plan: the sample vault synced byte for byte,
# applied records checked against `git hash-object`, preconditions, dry run,
# missing repository, busy lock, idempotency, state shapes read by python3.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../plan/wt-lib.sh"

# --- the sample vault, full sync -------------------------------------------
DD=$RGS_TMP/vault; wt_init "$DD"
node "$RGS_ROOT/tests/plan/vault-snap.js" "$VAULT" "$DD" "$R" "$F" >"$RGS_TMP/vault.snap"
st=0; sync <"$RGS_TMP/vault.snap" >"$RGS_TMP/vault.out" 2>"$RGS_TMP/vault.err" || st=$?
t_is "vault: plan | apply exit 0" "$st" 0
t_ok "vault: work tree equals the vault byte for byte" diff -r --exclude=.git "$VAULT" "$REPO"
nfiles=$(find "$VAULT" -type f | wc -l); ndirs=$(find "$VAULT" -mindepth 1 -type d | wc -l)
t_is "vault: one applied record per file and directory" \
  "$(jq -s 'map(select(.type == "applied")) | length' "$RGS_TMP/vault.out")" "$((nfiles + ndirs))"
jq -r 'select(.type == "applied" and .op == "write") | .path' "$RGS_TMP/vault.out" >"$RGS_TMP/paths"
(cd "$REPO" && git hash-object --stdin-paths <"$RGS_TMP/paths") | paste "$RGS_TMP/paths" - >"$RGS_TMP/blobs.want"
jq -r 'select(.type == "applied" and .op == "write") | [.path, .new_blob] | @tsv' "$RGS_TMP/vault.out" >"$RGS_TMP/blobs.got"
bad=$(diff "$RGS_TMP/blobs.got" "$RGS_TMP/blobs.want" | grep -c '^<')
t_is "vault: new_blob of every write = git hash-object of the file" "$bad" 0
t_is "vault: old_blob null for new files" \
  "$(jq -s 'map(select(.type == "applied" and .op == "write" and .old_blob != null)) | length' "$RGS_TMP/vault.out")" 0
nnotes=$(find "$VAULT" -type f \( -name '*.md' -o -name '*.canvas' \) | wc -l)
t_is "vault: document_hashes.json has every note and canvas" \
  "$(jq 'length' "$DD/state/$R/document_hashes.json")" "$nnotes"
# document hashes = sha256sum of the files written (independent hash)
jq -r --arg f "$F" '.[$f] | to_entries[] | select(.value.type != "file") | [.key, .value.doc_id] | @tsv' \
  "$DD/state/$R/local_state.json" | LC_ALL=C sort >"$RGS_TMP/docs"
cut -f1 "$RGS_TMP/docs" | while IFS= read -r vp; do sha_file "$REPO$vp"; done >"$RGS_TMP/docs.sha"
paste <(cut -f2 "$RGS_TMP/docs") "$RGS_TMP/docs.sha" | LC_ALL=C sort >"$RGS_TMP/hashes.want"
jq -r 'to_entries[] | [.key, .value] | @tsv' "$DD/state/$R/document_hashes.json" | LC_ALL=C sort >"$RGS_TMP/hashes.got"
bad=$(diff "$RGS_TMP/hashes.got" "$RGS_TMP/hashes.want" | grep -c '^[<>]')
t_is "vault: document hashes are the sha256 of the files" "$bad" 0
t_ok "vault: state files in the original's shapes (python3 json)" python3 - "$DD/state/$R" "$F" "$nfiles" <<'EOF'
import json, sys, os
d, f, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
h = json.load(open(os.path.join(d, "document_hashes.json")))
s = json.load(open(os.path.join(d, "shared_folders.json")))
l = json.load(open(os.path.join(d, "local_state.json")))
assert all(isinstance(k, str) and isinstance(v, str) and len(v) == 64 for k, v in h.items())
assert set(s) == {f} and all(k.startswith("/") and isinstance(v, dict) and "id" in v for k, v in s[f].items())
assert len(l[f]) == n, (len(l[f]), n)
for k, v in l[f].items():
    assert k.startswith("/") and set(v) == {"doc_id", "hash", "type", "modified"}, (k, v)
    assert v["type"] in ("document", "canvas", "file") and isinstance(v["modified"], float)
assert list(s[f]) == sorted(s[f]), "folder map keys sorted"
EOF
t_is "vault: no temporary file left in the tree" "$(find "$REPO" -name '*.tmp*' | wc -l)" 0
t_is "vault: second plan of the same snapshot has no ops" \
  "$(rgs-plan -d "$DD" <"$RGS_TMP/vault.snap" | jq -s 'map(select(.type == "op")) | length')" 0

# --- one note edited -----------------------------------------------------------
note="Startseite.md"
doc=$(jq -r --arg p "/$note" '.entries[$p].id' <(head -1 "$RGS_TMP/vault.snap"))
oldblob=$(git hash-object "$REPO/$note")
before=$(tree "$REPO")
doc_rec "$doc" "neu"$'\n'"Zeile" "ev:$R:$doc" >"$RGS_TMP/edit.in"
event_rec "$doc" '["u1"]' >>"$RGS_TMP/edit.in"
sync <"$RGS_TMP/edit.in" >"$RGS_TMP/edit.out"
t_is "edit: file has the new content" "$(cat "$REPO/$note")" "neu"$'\n'"Zeile"
t_is "edit: applied old/new blob = git hash-object" \
  "$(jq -r 'select(.type == "applied") | .old_blob + " " + .new_blob' "$RGS_TMP/edit.out")" \
  "$oldblob $(git hash-object "$REPO/$note")"
t_is "edit: applied carries the editors and the event's ref" \
  "$(jq -c 'select(.type == "applied") | [.users, .ref, .kind]' "$RGS_TMP/edit.out")" "[[\"u1\"],\"ev:$R:$doc\",\"markdown\"]"
t_is "edit: event passes through after its applied record" \
  "$(jq -r .type "$RGS_TMP/edit.out" | tr '\n' ' ')" "applied event "
t_is "edit: nothing else changed" "$(diff <(echo "$before") <(tree "$REPO") | grep -c '^[<>]')" 2

# --- dry run -------------------------------------------------------------------
before=$(tree "$REPO"); sbefore=$(state "$DD")
doc_rec "$doc" "dry" "ev:$R:$doc" | rgs-plan -d "$DD" | rgs-apply -d "$DD" -n >"$RGS_TMP/dry.out"
t_is "dry run: tree unchanged" "$(tree "$REPO")" "$before"
t_is "dry run: state unchanged" "$(state "$DD")" "$sbefore"
t_is "dry run: prints the op, content replaced by its size" \
  "$(jq -c 'select(.type == "op") | [.op, .path, .dry_run, .bytes, has("content")]' "$RGS_TMP/dry.out")" \
  "[\"write\",\"$note\",true,3,false]"

# --- stale preconditions --------------------------------------------------------
doc_rec "$doc" "v3" "ev:$R:$doc" | rgs-plan -d "$DD" >"$RGS_TMP/stale.ops"
printf 'changed behind our back' >"$REPO/$note"
st=0; rgs-apply -d "$DD" <"$RGS_TMP/stale.ops" >"$RGS_TMP/stale.out" 2>/dev/null || st=$?
t_is "stale: exit 1" "$st" 1
t_is "stale: failed, temporary, with the event's ref" \
  "$(jq -c 'select(.type == "failed") | [.temporary, .ref, .path]' "$RGS_TMP/stale.out")" "[true,\"ev:$R:$doc\",\"$note\"]"
t_is "stale: file left alone" "$(cat "$REPO/$note")" "changed behind our back"
t_is "stale: hash not recorded" "$(state_json "$DD" document_hashes | jq -r --arg d "$doc" '.[$d]')" "$(sha "neu"$'\n'"Zeile")"
# a re-plan sees the new bytes and succeeds
doc_rec "$doc" "v3" "ev:$R:$doc" | sync >/dev/null
t_is "stale: re-plan applies" "$(cat "$REPO/$note")" "v3"

# --- idempotent: the same ops twice ----------------------------------------------
doc_rec "$doc" "v4" "ev:$R:$doc" | rgs-plan -d "$DD" >"$RGS_TMP/twice.ops"
rgs-apply -d "$DD" <"$RGS_TMP/twice.ops" >/dev/null
before=$(tree "$REPO"); sbefore=$(state "$DD")
st=0; rgs-apply -d "$DD" <"$RGS_TMP/twice.ops" >"$RGS_TMP/twice.out" || st=$?
t_is "twice: second apply succeeds (already done)" "$st" 0
t_is "twice: reported with old_blob = new_blob" \
  "$(jq -r 'select(.type == "applied") | .old_blob == .new_blob' "$RGS_TMP/twice.out")" true
t_is "twice: tree unchanged" "$(tree "$REPO")" "$before"
t_is "twice: state unchanged" "$(state "$DD")" "$sbefore"

# --- repository not prepared, lock busy ---------------------------------------------
DD2=$RGS_TMP/noprep; wt_init "$DD2"; rm -rf "$DD2/repos/$R/$F/.git"
st=0; { folder_rec true "$(entries "$(e_md /a.md "$(uid 1)")")"; doc_rec "$(uid 1)" A; } | rgs-plan -d "$DD2" |
  rgs-apply -d "$DD2" >"$RGS_TMP/noprep.out" 2>/dev/null || st=$?
t_is "no .git: exit 1" "$st" 1
t_is "no .git: every op failed temporarily" \
  "$(jq -s -c 'map(select(.type == "failed")) | [length, (map(.temporary) | unique)]' "$RGS_TMP/noprep.out")" "[2,[true]]"
t_is "no .git: nothing written" "$(ls -A "$DD2/repos/$R/$F")" ""
# no repository at all (before the first sync), dry run: checked against an
# empty tree, nothing fails, nothing is created
DD3=$RGS_TMP/norepo; wt_init "$DD3"; rm -rf "$DD3/repos/$R/$F"
st=0; { folder_rec true "$(entries "$(e_md /a.md "$(uid 1)")")"; doc_rec "$(uid 1)" A; } | rgs-plan -d "$DD3" |
  rgs-apply -d "$DD3" -n >"$RGS_TMP/norepo.out" 2>"$RGS_TMP/norepo.err" || st=$?
t_is "no repository, dry run: exit 0" "$st" 0
t_is "no repository, dry run: the write is printed, nothing failed" \
  "$(jq -s -c '[map(select(.type == "op" and .op == "write")) | length, (map(select(.type == "failed")) | length)]' "$RGS_TMP/norepo.out")" "[1,0]"
t_ok "no repository, dry run: says so" grep -q "no local repository yet" "$RGS_TMP/norepo.err"
t_fails "no repository, dry run: nothing created" test -e "$DD3/repos/$R/$F"
git init -q "$DD2/repos/$R/$F"
mkdir -p "$DD2/locks/$R"
flock "$DD2/locks/$R/$F.lock" sleep 5 & lockpid=$!
# go on once the lock is really held (flock -n fails), at most 5 s
for ((i = 0; i < 100; i++)); do flock -n "$DD2/locks/$R/$F.lock" true || break; sleep 0.05; done
st=0; { folder_rec true "$(entries "$(e_md /a.md "$(uid 1)")")"; doc_rec "$(uid 1)" A; } | rgs-plan -d "$DD2" |
  rgs-apply -d "$DD2" --lock-wait 0.2 >"$RGS_TMP/busy.out" 2>"$RGS_TMP/busy.err" || st=$?
kill $lockpid 2>/dev/null; wait $lockpid 2>/dev/null
t_is "lock busy: ops fail temporarily" \
  "$(jq -r 'select(.type == "failed") | .temporary' "$RGS_TMP/busy.out" | sort -u)" true
t_ok "lock busy: reason says so" grep -q "repository lock: busy" "$RGS_TMP/busy.err"
t_is "lock busy: nothing written" "$(ls "$DD2/repos/$R/$F")" ""

# --- usage ------------------------------------------------------------------------
t_status "usage: unknown option is 100" 100 sh -c "rgs-apply --bogus 2>/dev/null"
t_ok "usage: --help" sh -c 'rgs-apply --help | grep -q Usage'
t_status "bad v is 100" 100 sh -c "echo '{\"v\":9,\"type\":\"op\"}' | rgs-apply -d '$DD' >/dev/null 2>&1"
done_testing
