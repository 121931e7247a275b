#!/usr/bin/env bash
# The state of a batch that only edits notes is read and written per
# document (DATA_DIR/state/<relay>/doc_index.ndjson, pending/<doc>.json,
# rgs_state.h), against the Relay stand-in through
#   rgs-fetch | rgs-plan | rgs-fetch | rgs-apply
# Checked: strace shows that no stage opens the three state files for such
# a batch; the pending changes are folded into the files on the final
# tick, after --state-max-age, past --state-max-pending, by a structural
# batch and by --compact; an original data directory (no index) upgrades in
# place; and in the end the state equals that of a fresh full sync.
. "$(dirname "$0")/../lib.sh"
. "$RGS_ROOT/tests/standin/lib.sh"
. "$RGS_ROOT/tests/plan/wt-lib.sh"
command -v strace >/dev/null || { notok "strace installed (share/deps/test.txt)"; done_testing; }
standin_start si --vault "$VAULT" --relay $R --folder $F || { notok "stand-in"; done_testing; }
export RELAY_SERVER_URL=$SI_URL RELAY_SERVER_API_KEY=$SI_TOKEN
mkdata() { # DIR
  mkdir -p "$1"
  printf '[[git_connector]]\nshared_folder_id = "%s"\nrelay_id = "%s"\nurl = "https://git.example.invalid/a.git"\n' \
    $F $R >"$1/git_connectors.toml"
  git init -q "$1/repos/$R/$F"
}
D=$RGS_TMP/data; mkdata "$D"
S=$D/state/$R REPO=$D/repos/$R/$F
# batch [APPLY OPTIONS]: records on stdin through the four stages (traced:
# every file any of them opens goes to $RGS_TMP/trace); records in $RGS_TMP/out
batch() {
  strace -f -qq -e trace=open,openat -o "$RGS_TMP/trace" \
    sh -c 'd=$1; shift; rgs-fetch -d "$d" -j 4 | rgs-plan -d "$d" | rgs-fetch -d "$d" | rgs-apply -d "$d" "$@"' sh "$D" "$@" \
    >"$RGS_TMP/out" 2>"$RGS_TMP/err"
}
applied() { jq -r 'select(.type=="applied") | .op + " " + .path' "$RGS_TMP/out" | LC_ALL=C sort | tr '\n' '|'; }
opened() { grep -cE '(document_hashes|shared_folders|local_state)\.json"' "$RGS_TMP/trace"; }
reconcile() { printf '{"v":1,"type":"reconcile","ref":"rc:%s:%s","relay":"%s","folder":"%s","reason":"manual"}\n' $R $F $R $F; }
doc_of() { si_get tree | jq -r --arg p "$1" '.entries[$p].id'; }
event() { event_rec "$1" '["alice"]'; }
edit() { si_post edit "{\"ops\":[{\"op\":\"type\",\"path\":\"$1\",\"pos\":0,\"text\":\"$2\",\"user\":\"alice\"}],\"flush\":true}" >/dev/null; }
tick() { printf '{"v":1,"type":"tick","time":%s,"final":%s}\n' "$(date +%s)" "$1"; }
pending() { find "$S/pending" -name '*.json' 2>/dev/null | wc -l; }
# the index header's stamps against the files (python3 os.stat, independent)
index_matches() {
  python3 - "$S" <<'EOF'
import json, os, sys
d = sys.argv[1]
h = json.loads(open(os.path.join(d, "doc_index.ndjson"), encoding="utf-8").readline())
def stamp(n):
    p = os.path.join(d, n)
    if not os.path.exists(p): return "-"
    s = os.stat(p)
    return "%d:%d:%d.%09d" % (s.st_ino, s.st_size, s.st_mtime_ns // 10**9, s.st_mtime_ns % 10**9)
want = [stamp(n) for n in ("document_hashes.json", "shared_folders.json", "local_state.json")]
sys.exit(0 if h["files"] == want else 1)
EOF
}
sums() { (cd "$S" && sha256sum document_hashes.json shared_folders.json local_state.json); }

# ---------------------------------------------------------------- full sync
reconcile | batch
t_is "full sync: every file written, no failed records" \
  "$(jq -r 'select(.type=="applied" and .op=="write")' "$RGS_TMP/out" | jq -s length) $(jq -r 'select(.type=="failed")' "$RGS_TMP/out" | wc -l)" \
  "$(find "$VAULT" -type f | wc -l) 0"
t_ok "full sync: the index is written, its stamps match the files" index_matches
# every document of shared_folders.json is in the index at its first path
jq -r --arg f $F '.[$f] | to_entries | map(select(.value.type != "folder")) | sort_by(.key)
  | group_by(.value.id | ascii_downcase) | .[] | [(.[0].value.id | ascii_downcase), .[0].key] | @tsv' \
  "$S/shared_folders.json" | LC_ALL=C sort >"$RGS_TMP/idx.want"
tail -n +2 "$S/doc_index.ndjson" | jq -r 'select(.folder) | [.doc, .vpath] | @tsv' >"$RGS_TMP/idx.got"
t_diff "full sync: the index lists every document at its path, sorted by id" "$RGS_TMP/idx.got" "$RGS_TMP/idx.want"

# ---------------------------------------------------------------- one note edited
note="/Startseite.md"; doc=$(doc_of "$note")
before=$(sums)
edit "$note" "Neu: "
event "$doc" | batch
t_is "edit: the note is written" "$(applied)" "write Startseite.md|"
t_is "edit: its content is Relay's" "$(head -c 5 "$REPO$note")" "Neu: "
t_is "edit: no stage opened a state file (strace)" "$(opened)" 0
t_is "edit: the state files are unchanged" "$(sums)" "$before"
t_is "edit: one pending change" "$(pending)" 1
t_is "edit: with the hash of the file written" "$(state_json "$D" document_hashes | jq -r --arg d "$doc" '.[$d]')" \
  "$(sha_file "$REPO$note")"
canvas="/Leer.canvas"; cdoc=$(doc_of "$canvas")
si_post edit "{\"ops\":[{\"op\":\"canvas\",\"path\":\"$canvas\",\"set_nodes\":[{\"id\":\"n1\",\"type\":\"text\",\"text\":\"x\",\"x\":0,\"y\":0,\"width\":10,\"height\":10}]}],\"flush\":true}" >/dev/null
event "$cdoc" | batch
t_is "canvas edit: written, no state file opened, two pending" "$(applied) $(opened) $(pending)" "write Leer.canvas| 0 2"
event "$doc" | batch
t_is "the same event again: nothing to do, nothing opened" "$(applied) $(opened)" " 0"

# ---------------------------------------------------------------- bounds
tick false | rgs-apply -d "$D" >/dev/null
t_is "a tick within --state-max-age: still pending" "$(pending)" 2
tick false | rgs-apply -d "$D" --state-max-age 0 >"$RGS_TMP/tick.out"
t_is "a tick past --state-max-age: folded in" "$(pending) $(test -e "$S/pending/since" && echo since)" "0 "
t_is "... the tick passes through" "$(jq -r .type "$RGS_TMP/tick.out")" tick
t_is "... the hash is in document_hashes.json" "$(jq -r --arg d "$doc" '.[$d]' "$S/document_hashes.json")" \
  "$(sha_file "$REPO$note")"
t_ok "... the index matches the new files" index_matches
edit "$note" "A"; event "$doc" | batch --state-max-pending 1
t_is "--state-max-pending 1: folded in at once" "$(applied) $(pending)" "write Startseite.md| 0"
t_is "... document_hashes.json has the new hash" "$(jq -r --arg d "$doc" '.[$d]' "$S/document_hashes.json")" \
  "$(sha_file "$REPO$note")"
edit "$note" "B"; { event "$doc"; tick true; } | batch
t_is "final tick: the edit applied, then folded in" "$(applied) $(pending)" "write Startseite.md| 0"
t_is "... document_hashes.json has the new hash" "$(jq -r --arg d "$doc" '.[$d]' "$S/document_hashes.json")" \
  "$(sha_file "$REPO$note")"
edit "$note" "C"; event "$doc" | batch
t_is "--compact: one pending before" "$(pending)" 1
rgs-apply -d "$D" --compact </dev/null
t_is "--compact: folded in" "$(pending) $(jq -r --arg d "$doc" '.[$d]' "$S/document_hashes.json")" \
  "0 $(sha_file "$REPO$note")"

# ---------------------------------------------------------------- a structural batch folds pending changes
edit "$note" "D"; event "$doc" | batch
renamed="/Umbenannt.md"
si_post edit "{\"ops\":[{\"op\":\"rename\",\"from\":\"$note\",\"to\":\"$renamed\",\"user\":\"bob\"}],\"flush\":true}" >/dev/null
event $F | batch
t_is "rename: the file moved" "$(jq -r 'select(.type=="applied") | .op + " " + .from + " " + .path' "$RGS_TMP/out")" \
  "move Startseite.md Umbenannt.md"
t_is "rename: nothing pending, the files are up to date" \
  "$(pending) $(jq -r --arg d "$doc" '.[$d]' "$S/document_hashes.json") $(jq -r --arg f $F --arg p "$renamed" '.[$f][$p].doc_id' "$S/local_state.json")" \
  "0 $(sha_file "$REPO$renamed") $doc"
t_is "rename: the old path is gone from the files" \
  "$(jq -r --arg f $F --arg p "$note" '[.[$f][$p]] | map(select(.)) | length' "$S/local_state.json" "$S/shared_folders.json" | tr '\n' ' ')" "0 0 "
t_ok "rename: the index matches" index_matches
edit "$renamed" "E"; event "$doc" | batch
t_is "an edit at the new path: lazy again" "$(applied) $(opened)" "write Umbenannt.md| 0"

# ---------------------------------------------------------------- an original data directory upgrades in place
rgs-apply -d "$D" --compact </dev/null
python3 - "$S" <<'EOF'
import json, os, sys
d = sys.argv[1]
for n in ("document_hashes.json", "shared_folders.json", "local_state.json"):
    p = os.path.join(d, n)
    o = json.load(open(p))
    with open(p, "w") as f:      # in place, unsorted, as the original's json.dump(indent=2)
        json.dump(o, f, indent=2)
os.remove(os.path.join(d, "doc_index.ndjson"))
EOF
edit "$renamed" "F"; event "$doc" | batch
t_is "original data dir: the edit is applied" "$(applied) $(head -c 1 "$REPO$renamed")" "write Umbenannt.md| F"
t_ok "original data dir: rgs-apply wrote the index" index_matches
edit "$renamed" "G"; event "$doc" | batch
t_is "original data dir: the next edit is lazy" "$(applied) $(opened) $(pending)" "write Umbenannt.md| 0 1"

# ---------------------------------------------------------------- a damaged pending file
printf '{"doc":' >"$S/pending/$doc.json"
edit "$renamed" "H"; event "$doc" | batch
t_is "damaged pending file: the event fails, temporarily (at its first lookup), nothing written" \
  "$(jq -r 'select(.type=="failed") | .stage + " " + (.temporary|tostring)' "$RGS_TMP/out") $(applied) $(head -c 1 "$REPO$renamed")" "rgs-fetch true  G"
grep -q "pending/$doc.json" "$RGS_TMP/err" && ok "... the message names the file" || notok "... the message names the file"
rm "$S/pending/$doc.json"
event "$doc" | batch
t_is "without it: the edit is applied (the hash it held is planned again)" "$(applied) $(head -c 1 "$REPO$renamed")" "write Umbenannt.md| H"

# ---------------------------------------------------------------- the same state as a fresh full sync
{ reconcile; tick true; } | batch
t_is "reconcile + final tick: nothing to write, nothing pending" "$(applied) $(pending)" " 0"
D2=$RGS_TMP/fresh; mkdata "$D2"
reconcile | (D=$D2; batch)
state "$D" >"$RGS_TMP/state.inc"; state "$D2" >"$RGS_TMP/state.fresh"
t_diff "the state after these batches equals a fresh full sync's" "$RGS_TMP/state.inc" "$RGS_TMP/state.fresh"
t_ok "the state files keep the original's shapes (python3 json)" python3 - "$S" "$F" <<'EOF'
import json, os, sys
d, f = sys.argv[1], sys.argv[2]
h = json.load(open(os.path.join(d, "document_hashes.json")))
s = json.load(open(os.path.join(d, "shared_folders.json")))
l = json.load(open(os.path.join(d, "local_state.json")))
assert all(isinstance(v, str) and len(v) == 64 for v in h.values())
assert set(s) == {f} and all(k.startswith("/") and "id" in v for k, v in s[f].items())
for k, v in l[f].items():
    assert k.startswith("/") and set(v) == {"doc_id", "hash", "type", "modified"}, (k, v)
EOF

# ---------------------------------------------------------------- the same system calls at 100 and 2000 notes
# plan | apply of one edited note (a write) in a folder of N synthetic notes
# (synced first, then one edit to settle the index): strace -c counts of the
# calls that touch files must not depend on N
synthetic() { # N STAGE: folder snapshot + notes, or (STAGE edit) one edited note
  node -e '
const crypto = require("crypto"), [n, stage, R, F] = process.argv.slice(1);
const uid = (i) => "cccccccc-0000-4000-8000-" + String(i).padStart(12, "0");
const sha = (s) => crypto.createHash("sha256").update(s).digest("hex"), ref = "rc:" + R + ":" + F;
const doc = (i, c) => JSON.stringify({ v: 1, type: "doc", ref, relay: R, folder: F, doc: uid(i), kind: "markdown", never_written: false, content: c, sha256: sha(c) });
if (stage !== "full") { console.log(doc(7, "edited " + stage)); process.exit(0); }
const entries = {}, docs = [];
for (let i = 0; i < +n; i++) {
  const dir = "/Teil " + Math.floor(i / 100);
  entries[dir] = { version: 0, id: uid(900000 + Math.floor(i / 100)), type: "folder" };
  entries[dir + "/Notiz " + i + ".md"] = { version: 0, id: uid(i), type: "markdown" };
  docs.push(doc(i, "# Notiz " + i + "\n" + "lorem ipsum ".repeat(30)));
}
console.log(JSON.stringify({ v: 1, type: "folder", ref, relay: R, folder: F, never_written: false, full: true, entries }));
console.log(docs.join("\n"));' "$@" $R $F
}
for n in 100 2000; do
  DN=$RGS_TMP/syn$n; mkdata "$DN"
  synthetic $n full | rgs-plan -d "$DN" | rgs-apply -d "$DN" >/dev/null
  # 2000 notes: three runs of at most 1000 ops, the index written by the last
  [ $n = 2000 ] && { S=$DN/state/$R; t_ok "2000 notes: after the full sync the index matches the files" index_matches; }
  synthetic $n one | rgs-plan -d "$DN" | rgs-apply -d "$DN" >/dev/null
  synthetic $n two >"$RGS_TMP/edit$n"
  strace -f -c -o "$RGS_TMP/sc$n" sh -c 'rgs-plan -d "$1" <"$2" | rgs-apply -d "$1" >"$3"' sh "$DN" "$RGS_TMP/edit$n" "$RGS_TMP/out$n"
  awk '$NF ~ /^(open|openat|read|pread64|write|fsync|fdatasync|syncfs|rename|renameat|getdents64|unlinkat|mkdir|newfstatat|statx)$/ { print $NF, $4 }' \
    "$RGS_TMP/sc$n" | sort >"$RGS_TMP/calls$n"
done
t_is "100 and 2000 notes: the edit is applied in both" \
  "$(jq -r 'select(.type=="applied") | .op' "$RGS_TMP/out100" "$RGS_TMP/out2000" | tr '\n' ' ')" "write write "
t_diff "100 and 2000 notes: the same number of each file system call (strace -c)" "$RGS_TMP/calls2000" "$RGS_TMP/calls100"
done_testing
