#!/usr/bin/env bash
# rgs-fetch alone against the Relay stand-in: every snapshot kind, byte-exact
# notes (cmp against the vault), canvases against the python3 oracle and the
# plugin-format oracle, op sources, passthrough, never-written documents.
. "$(dirname "$0")/../lib.sh"
. "$RGS_ROOT/tests/standin/lib.sh"
REL=5b0c2a4e-1f3d-4c5b-9a8e-7d6c5b4a3f21
FOL=0e9d8c7b-6a5f-4e4d-8c3b-2a1f0e9d8c7b
standin_start si --vault "$VAULT" --relay $REL --folder $FOL --token 'tok en/+=' || { notok "stand-in"; done_testing; }
D=$RGS_TMP/data
mkdir -p "$D"
cat >"$D/git_connectors.toml" <<TOML
[[git_connector]]
shared_folder_id = "$FOL"
relay_id = "$REL"
url = "https://git.example.com/notes.git"
TOML
export RELAY_SERVER_URL=$SI_URL RELAY_SERVER_API_KEY='tok en/+='
fetch() { rgs-fetch -d "$D" "$@"; }
rec() { printf '{"v":1,"type":"%s","ref":"r1","relay":"%s",%s}\n' "$1" "$REL" "$2"; }

# ---------------------------------------------------------------- reconcile
rec reconcile "\"folder\":\"$FOL\",\"reason\":\"manual\"" >"$RGS_TMP/rc.in"
fetch -j 4 <"$RGS_TMP/rc.in" >"$RGS_TMP/rc.out" 2>"$RGS_TMP/rc.err"
t_is "reconcile: exit 0" "$?" 0
t_is "first a folder snapshot with full=true, last the reconcile itself" \
  "$(head -1 "$RGS_TMP/rc.out" | jq -r '[.type,.full,.never_written,.ref]|join(" ")') $(tail -1 "$RGS_TMP/rc.out" | jq -c .)" \
  "folder true false r1 $(jq -c '. + {fetched: true}' "$RGS_TMP/rc.in")"
si_post stats/reset '{}' >/dev/null
fetch <"$RGS_TMP/rc.out" >"$RGS_TMP/rc.again"
t_is "a second rgs-fetch (after rgs-plan) passes the fetched reconcile and the snapshots on, fetching nothing" \
  "$(cmp -s "$RGS_TMP/rc.out" "$RGS_TMP/rc.again" && echo same) $(si_get stats | jq .as_update)" "same 0"
si_get tree | jq -r '.entries|keys[]' | LC_ALL=C sort >"$RGS_TMP/want-keys"
head -1 "$RGS_TMP/rc.out" | jq -r '.entries|keys[]' | LC_ALL=C sort >"$RGS_TMP/got-keys"
t_diff "folder entries = the stand-in's live entries" "$RGS_TMP/got-keys" "$RGS_TMP/want-keys"
# entry values and their order, against yjs reading the same update
curl -s -H "Authorization: Bearer $RELAY_SERVER_API_KEY" "$SI_URL/d/$REL-$FOL/as-update" >"$RGS_TMP/folder.bin"
node -e '
const Y = require("yjs"); const d = new Y.Doc();
Y.applyUpdate(d, require("fs").readFileSync(process.argv[1]));
const o = {}; d.getMap("filemeta_v0").forEach((v, k) => { o[k] = v; });
process.stdout.write(JSON.stringify(o) + "\n");' "$RGS_TMP/folder.bin" >"$RGS_TMP/yjs-fm.json"
head -1 "$RGS_TMP/rc.out" | jq -c .entries >"$RGS_TMP/got-fm.json"
t_diff "entries = filemeta_v0 as yjs reads it (values, key order)" "$RGS_TMP/got-fm.json" "$RGS_TMP/yjs-fm.json"
n_docs=$(cd "$VAULT" && find . -name '*.md' -o -name '*.canvas' | wc -l)
t_is "a doc snapshot for every note and canvas" "$(jq -r 'select(.type=="doc")|.doc' "$RGS_TMP/rc.out" | sort -u | wc -l)" "$n_docs"
# every note byte for byte against the vault file
python3 - "$RGS_TMP/rc.out" "$VAULT" >"$RGS_TMP/md-cmp" <<'PY'
import json, sys
n = bad = 0
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if r["type"] == "doc" and r["kind"] == "markdown":
        n += 1
        if r["content"].encode("utf-8") != open(sys.argv[2] + r["vpath"], "rb").read():
            bad += 1
            print("# differs:", r["vpath"])
print(n, bad)
PY
t_is "all $(tail -1 "$RGS_TMP/md-cmp" | cut -d' ' -f1) notes byte-identical to the vault (umlauts, spaces, front matter)" \
  "$(tail -1 "$RGS_TMP/md-cmp" | cut -d' ' -f2)" 0
t_is "sha256 field = sha256 of the content" \
  "$(jq -r 'select(.type=="doc") | [.sha256, .content] | @json' "$RGS_TMP/rc.out" | python3 -c '
import sys, json, hashlib
bad = 0
for l in sys.stdin:
    h, c = json.loads(l)
    bad += hashlib.sha256(c.encode()).hexdigest() != h
print(bad)')" 0
t_ok "snapshots carry the reconcile's ref, relay and folder" \
  test "$(jq -r 'select(.type=="doc") | [.ref,.relay,.folder]|join(" ")' "$RGS_TMP/rc.out" | sort -u)" = "r1 $REL $FOL"

# canvases: three formats against the oracles (python3 json.dumps, the plugin format in canvas.js)
for c in /Projektplan.canvas /Leer.canvas; do
  si_get "doc?path=$c" | jq -c .canvas >"$RGS_TMP/cd.json"
  for mode in python python-int obsidian; do
    if [ $mode = obsidian ]; then si_get "doc?path=$c" | jq -j .obsidian >"$RGS_TMP/want.canvas"
    else python3 "$RGS_ROOT/tests/fetch/canvas_oracle.py" $mode <"$RGS_TMP/cd.json" | tr -d '\0' >"$RGS_TMP/want.canvas"; fi
    fetch --canvas-format $mode <"$RGS_TMP/rc.in" | jq -j --arg p "$c" 'select(.type=="doc" and .vpath==$p) | .content' >"$RGS_TMP/got.canvas"
    t_diff "canvas $c in $mode format = oracle" "$RGS_TMP/got.canvas" "$RGS_TMP/want.canvas"
  done
done
t_ok "python format prints the canvas' integers as floats, as pycrdt does" \
  grep -q '"x": -420.0,' <(jq -r 'select(.vpath=="/Projektplan.canvas")|.content' "$RGS_TMP/rc.out")

# ---------------------------------------------------------------- events
# the state a previous batch left: shared_folders.json with this folder's entries
mkdir -p "$D/state/$REL"
head -1 "$RGS_TMP/rc.out" | jq --arg f $FOL '{($f): .entries}' >"$D/state/$REL/shared_folders.json"
id_of() { si_get tree | jq -r --arg p "$1" '.entries[$p].id'; }
NOTE=/Startseite.md
NID=$(id_of $NOTE)
rec event "\"resource\":\"$NID\",\"users\":[\"alice\"],\"count\":2" >"$RGS_TMP/ev.in"
si_post edit '{"op":"type","path":"'$NOTE'","pos":0,"text":"Hallo Welt! "}' >/dev/null
fetch <"$RGS_TMP/ev.in" >"$RGS_TMP/ev.out"
t_is "event for a note: one doc snapshot, then the event" "$(jq -r .type "$RGS_TMP/ev.out" | tr '\n' ' ')" "doc event "
{ printf 'Hallo Welt! '; cat "$VAULT$NOTE"; } >"$RGS_TMP/want-note"
head -1 "$RGS_TMP/ev.out" | jq -j .content >"$RGS_TMP/got-note"
t_diff "the edit is in the snapshot" "$RGS_TMP/got-note" "$RGS_TMP/want-note"
t_is "doc snapshot fields" "$(head -1 "$RGS_TMP/ev.out" | jq -r '[.ref,.relay,.folder,.doc,.kind,.vpath,.never_written]|join(" ")')" \
  "r1 $REL $FOL $NID markdown $NOTE false"
rec event "\"resource\":\"$FOL\"" | fetch >"$RGS_TMP/evf.out"
t_is "event for the folder: a folder snapshot with full=false, no doc snapshot" \
  "$(jq -r '[.type, (.full|tostring)]|join(":")' "$RGS_TMP/evf.out" | tr '\n' ' ')" "folder:false event:null "
PNG=$(id_of /favicon-96x96.png)
rec event "\"resource\":\"$PNG\"" | fetch -v >"$RGS_TMP/evp.out" 2>"$RGS_TMP/evp.err"
t_is "event for an attachment: passed through, nothing fetched" "$(jq -r .type "$RGS_TMP/evp.out")" event
rec event "\"resource\":\"12345678-1234-4234-8234-123456789abc\"" | fetch -vv >"$RGS_TMP/evu.out" 2>"$RGS_TMP/evu.err"
t_is "event for an unknown id: passed through" "$(jq -r .type "$RGS_TMP/evu.out")" event
t_ok "... with a debug message" grep -q 'debug: .*12345678-1234-4234-8234-123456789abc.*skipped' "$RGS_TMP/evu.err"

# never written: an entry whose document nobody uploaded
si_post edit '{"op":"create","path":"/Neu/Leer.md","register_only":true}' >/dev/null
NEW=$(id_of /Neu/Leer.md)
rec reconcile "\"folder\":\"$FOL\"" | fetch >"$RGS_TMP/rc2.out"
t_is "never-written note in a reconcile: never_written true, no content" \
  "$(jq -c --arg d "$NEW" 'select(.type=="doc" and .doc==$d) | [.never_written, has("content"), has("sha256")]' "$RGS_TMP/rc2.out")" '[true,false,false]'
si_post edit '{"op":"empty","path":"/Startseite.md"}' >/dev/null
t_is "an emptied note is empty, not never written" \
  "$(fetch <"$RGS_TMP/ev.in" | jq -c 'select(.type=="doc") | [.never_written, .content, .sha256]')" \
  '[false,"","e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]'

# legacy deletion (an old client removes only the docs entry) and a docs-only note
si_post edit '{"op":"delete","path":"/Hilfe und Support.md","legacy":true}' >/dev/null
si_post edit '{"op":"raw-docs","key":"/Alt/Nur docs.md","value":"'"$NID"'"}' >/dev/null
rec event "\"resource\":\"$FOL\"" | fetch | sed -n 1p >"$RGS_TMP/legacy.out"
t_is "legacy-deleted note is gone from the entries" "$(jq '.entries | has("/Hilfe und Support.md")' "$RGS_TMP/legacy.out")" false
t_is "docs-only note is live, its folder implied" \
  "$(jq -c '[.entries["/Alt/Nur docs.md"].type, .entries["/Alt/Nur docs.md"].id, .entries["/Alt"].implied]' "$RGS_TMP/legacy.out")" \
  "[\"markdown\",\"$NID\",true]"

# ---------------------------------------------------------------- op sources
OGG=$(cd "$VAULT" && find . -name '*.ogg' | head -1 | sed 's/^\.//')
OID=$(id_of "$OGG")
OH=$(si_get tree | jq -r --arg p "$OGG" '.entries[$p].hash')
CID=$(id_of /Projektplan.canvas)
{
  printf '{"v":1,"type":"op","ref":"o1","op":"write","relay":"%s","folder":"%s","path":"a.ogg","vpath":"%s","kind":"file","source":{"kind":"blob","doc":"%s","hash":"%s"}}\n' $REL $FOL "$OGG" "$OID" "$OH"
  printf '{"v":1,"type":"tick","time":1.5,"final":false}\n'
  printf '{"v":1,"type":"op","ref":"o2","op":"write","relay":"%s","folder":"%s","path":"Projektplan.canvas","kind":"canvas","source":{"kind":"canvas","doc":"%s"}}\n' $REL $FOL "$CID"
  printf '{"v":1,"type":"op","ref":"o3","op":"write","relay":"%s","folder":"%s","path":"Neu/Leer.md","kind":"markdown","source":{"kind":"markdown","doc":"%s"}}\n' $REL $FOL "$NEW"
  printf '{"v":1,"type":"op","ref":"o4","op":"delete","relay":"%s","folder":"%s","path":"x.md"}\n' $REL $FOL
  printf '{"v":1,"type":"whatever","x":[1,2.50,"\\u00fc"]}\n'
} >"$RGS_TMP/ops.in"
si_post stats/reset '{}' >/dev/null
fetch <"$RGS_TMP/ops.in" >"$RGS_TMP/ops.out"
t_is "op sources: exit 0" "$?" 0
t_is "records in input order: op, tick, op, held, op, unknown type" "$(jq -r .type "$RGS_TMP/ops.out" | tr '\n' ' ')" "op tick op held op whatever "
t_diff "the blob is in the cache, byte for byte" "$D/cache/blobs/$OH" "$VAULT$OGG"
t_is "blob op gets blob and sha256" "$(head -1 "$RGS_TMP/ops.out" | jq -r '[.blob,.sha256,.source.hash]|join(" ")')" "$OH $OH $OH"
t_is "canvas op gets the exported content" "$(sed -n 3p "$RGS_TMP/ops.out" | jq -r .content | head -3 | tr '\n' '|')" '{|  "edges": [|    {|'
t_is "never-written source becomes held never-written" "$(sed -n 4p "$RGS_TMP/ops.out" | jq -r '[.reason,.ref,.path]|join(" ")')" "never-written o3 Neu/Leer.md"
t_is "other records unchanged" "$(sed -n 5,6p "$RGS_TMP/ops.out")" "$(sed -n 5,6p "$RGS_TMP/ops.in" | jq -c .)"
t_is "download without the bearer (the presigned URL refuses one)" "$(si_get stats | jq -r '[.download_url,.blob,.blob_with_auth]|join(" ")')" "1 1 0"
t_is "no temporary files left in the cache" "$(ls -A "$D/cache/blobs" | grep -c '^\.tmp')" 0
si_post stats/reset '{}' >/dev/null
head -1 "$RGS_TMP/ops.in" | fetch >/dev/null
t_is "a cached blob is never downloaded twice" "$(si_get stats | jq -r '[.download_url,.blob]|join(" ")')" "0 0"

# ---------------------------------------------------------------- input errors
printf '{"v":2,"type":"event"}\n' | fetch >/dev/null 2>&1
t_is "unknown v: exit 100" "$?" 100
t_status "--help: exit 0" 0 sh -c "rgs-fetch --help >/dev/null"
t_status "no Relay URL: exit 100" 100 env -u RELAY_SERVER_URL rgs-fetch -d "$D" </dev/null 2>/dev/null
t_status "ftp:// Relay URL refused: exit 100" 100 rgs-fetch -d "$D" --relay-server-url ftp://x/ </dev/null 2>/dev/null
done_testing
