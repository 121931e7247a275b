#!/usr/bin/env bash
# The Relay stand-in itself, checked with independent tools: documents
# decoded by ywasm (yrs, a second Yjs implementation), bytes compared with
# the vault files by sha256sum/cmp, HTTP through curl, webhooks received by
# a plain Node listener.
. "$(dirname "$0")/../lib.sh"

REL=3f1e5a52-0c1d-4a8e-9b7f-1a2b3c4d5e6f
FOL=8c2d7e10-5b4a-4c3d-8e2f-9a8b7c6d5e4f
port=$(free_port)
whport=$(free_port)
node -e '
const http = require("http"); const fs = require("fs");
http.createServer((q, s) => { let b = ""; q.on("data", (c) => b += c); q.on("end", () => {
  fs.appendFileSync(process.argv[1], JSON.stringify({auth: q.headers.authorization || null, ua: q.headers["user-agent"], ct: q.headers["content-type"], body: JSON.parse(b)}) + "\n");
  s.end("{}"); }); }).listen(+process.argv[2], "127.0.0.1");' "$RGS_TMP/hooks.ndjson" "$whport" &
node "$RGS_ROOT/tests/standin/standin.js" --vault "$VAULT" --relay $REL --folder $FOL --port "$port" \
  --token s3cret --webhook-url "http://127.0.0.1:$whport/webhooks" --webhook-token hooktok >"$RGS_TMP/ready" 2>"$RGS_TMP/err" &
wait_port "$port" 20 && wait_port "$whport" 5
U=http://127.0.0.1:$port
A=(-H "Authorization: Bearer s3cret")

t_is "ready line names port and fixed ids" "$(jq -r '[.port,.relay,.folder]|join(" ")' "$RGS_TMP/ready")" "$port $REL $FOL"

# --- folder document, decoded by ywasm
curl -s "${A[@]}" -o "$RGS_TMP/folder.bin" "$U/d/$REL-$FOL/as-update"
cat >"$RGS_TMP/decode.js" <<'EOF'
const Y = require('ywasm'); const fs = require('fs');
const d = new Y.YDoc({});
Y.applyUpdate(d, fs.readFileSync(process.argv[2]), null);
const what = process.argv[3];
if (what === 'folder') {
  const fm = d.getMap('filemeta_v0').toJson();
  const docs = d.getMap('docs').toJson();
  process.stdout.write(JSON.stringify({ fm, docs }));
} else {
  process.stdout.write(d.getText('contents').toString());
}
EOF
node "$RGS_TMP/decode.js" "$RGS_TMP/folder.bin" folder >"$RGS_TMP/folder.json"
(cd "$VAULT" && find . -mindepth 1 | sed 's/^\.//' | LC_ALL=C sort) >"$RGS_TMP/want-paths"
jq -r '.fm | keys[]' "$RGS_TMP/folder.json" | LC_ALL=C sort >"$RGS_TMP/got-paths"
t_diff "filemeta_v0 keys = every vault path with a leading /" "$RGS_TMP/got-paths" "$RGS_TMP/want-paths"
(cd "$VAULT" && find . -name '*.md' | sed 's/^\.//' | LC_ALL=C sort) >"$RGS_TMP/want-md"
jq -r '.docs | keys[]' "$RGS_TMP/folder.json" | LC_ALL=C sort >"$RGS_TMP/got-md"
t_diff "legacy docs map = the markdown paths" "$RGS_TMP/got-md" "$RGS_TMP/want-md"
t_is "docs ids equal filemeta ids" "$(jq -r '. as $r | [.docs|to_entries[]|select($r.fm[.key].id != .value)]|length' "$RGS_TMP/folder.json")" 0
# key order of the plain-object values (ywasm's maps are unordered: read it back with yjs)
node -e '
const Y = require("yjs"); const d = new Y.Doc();
Y.applyUpdate(d, require("fs").readFileSync(process.argv[1]));
const out = new Set();
d.getMap("filemeta_v0").forEach((v) => out.add(v.type + ":" + Object.keys(v).join(",")));
console.log([...out].sort().join(" "));' "$RGS_TMP/folder.bin" >"$RGS_TMP/shapes"
t_is "value shapes as the plugin writes them" "$(cat "$RGS_TMP/shapes")" \
  "audio:version,id,type,mimetype,synctime,hash canvas:version,id,type file:version,id,type,mimetype,synctime,hash folder:version,id,type image:version,id,type,mimetype,synctime,hash markdown:version,id,type"

# --- a note, decoded by ywasm, byte for byte
note="/Bearbeitung und Formatierung/Grundlegende Formatierungssyntax.md"
[ -f "$VAULT$note" ] || note=/Startseite.md
nid=$(jq -r --arg p "$note" '.fm[$p].id' "$RGS_TMP/folder.json")
curl -s "${A[@]}" -o "$RGS_TMP/note.bin" "$U/d/$REL-$nid/as-update"
node "$RGS_TMP/decode.js" "$RGS_TMP/note.bin" text >"$RGS_TMP/note.md"
t_diff "note contents = vault file ($note)" "$RGS_TMP/note.md" "$VAULT$note"

# --- blobs
ogg=$(cd "$VAULT" && find . -name '*.ogg' | head -1 | sed 's/^\.//')
oid=$(jq -r --arg p "$ogg" '.fm[$p].id' "$RGS_TMP/folder.json")
ohash=$(jq -r --arg p "$ogg" '.fm[$p].hash' "$RGS_TMP/folder.json")
t_is "filemeta hash = sha256 of the file" "$ohash" "$(sha256sum <"$VAULT$ogg" | cut -d' ' -f1)"
url=$(curl -s "${A[@]}" "$U/f/$REL-$oid/download-url?hash=$ohash" | jq -r .downloadUrl)
curl -s -o "$RGS_TMP/blob" "$url"
t_diff "download-url then GET gives the file" "$RGS_TMP/blob" "$VAULT$ogg"
t_is "blob GET with a bearer is refused (presigned URL)" "$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" "$url")" 400
t_is "download-url without bearer: 401" "$(curl -s -o /dev/null -w '%{http_code}' "$U/f/$REL-$oid/download-url?hash=$ohash")" 401
t_is "download-url with a bad hash: 400" "$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" "$U/f/$REL-$oid/download-url?hash=xyz")" 400
t_is "download-url unknown hash: 404" "$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" "$U/f/$REL-$oid/download-url?hash=$(printf %064d 0)")" 404

# --- Relay behaviour
t_is "as-update without bearer: 401" "$(curl -s -o /dev/null -w '%{http_code}' "$U/d/$REL-$nid/as-update")" 401
t_is "unknown doc: 200 and 00 00" "$(curl -s "${A[@]}" "$U/d/$REL-00000000-0000-4000-8000-000000000001/as-update" | od -An -tx1 | tr -d ' \n')" 0000
t_ok "relay-server-version header" grep -qi '^relay-server-version:' <(curl -s -D - -o /dev/null "$U/ready")

# --- canvases in the plugin format equal the vault's canvas
curl -s "$U/_control/doc?path=/Projektplan.canvas" | jq -r .obsidian >"$RGS_TMP/pp.canvas"  # + the vault file's final newline
t_diff "canvas export (plugin format) = vault canvas" "$RGS_TMP/pp.canvas" "$VAULT/Projektplan.canvas"
t_is "canvas doc roots" "$(curl -s "$U/_control/doc?path=/Projektplan.canvas" | jq -c '.canvas.roots|sort')" \
  '["8a1f2c3d4e5f6071","e5f6071829304152","edges","nodes","relay"]'

# --- edits and webhooks
curl -s -XPOST "$U/_control/edit" -d '{"ops":[{"op":"type","path":"'"$note"'","pos":0,"text":"Hallo ","user":"alice"}],"flush":true}' >/dev/null
curl -s "${A[@]}" -o "$RGS_TMP/note2.bin" "$U/d/$REL-$nid/as-update"
node "$RGS_TMP/decode.js" "$RGS_TMP/note2.bin" text >"$RGS_TMP/note2.md"
{ printf 'Hallo '; cat "$VAULT$note"; } >"$RGS_TMP/want2.md"
t_diff "typed text is in the served doc" "$RGS_TMP/note2.md" "$RGS_TMP/want2.md"
t_is "webhooks: users registration (null) then alice's update" \
  "$(jq -r '.body.payload.user' "$RGS_TMP/hooks.ndjson" | tr '\n' ' ')" "null alice "
t_is "webhook headers and shape" "$(jq -r '[.auth,.ua,.ct,.body.eventType,(.body.eventId|test("^evt_[A-Za-z0-9]{21}$")),.body.payload.doc_id,(.body.payload.timestamp|test("^[0-9-]+T[0-9:]+\\.[0-9]{9}\\+00:00$"))]|join(" ")' "$RGS_TMP/hooks.ndjson" | tail -1)" \
  "Bearer hooktok y-sweet-webhook/1.0.0 application/json document.updated true $REL-$nid true"
curl -s -XPOST "$U/_control/edit" -d '{"ops":[{"op":"rename","from":"/Obsidian Sync","to":"/Sync/Alt","user":"bob"}],"flush":true}' >/dev/null
curl -s "$U/_control/tree" >"$RGS_TMP/tree.json"
t_is "folder move: nothing left under the old name" "$(jq '[.entries|keys[]|select(startswith("/Obsidian Sync"))]|length' "$RGS_TMP/tree.json")" 0
t_is "folder move: same count under the new name" "$(jq '[.entries|keys[]|select(startswith("/Sync/Alt/") or . == "/Sync/Alt")]|length' "$RGS_TMP/tree.json")" \
  "$(grep -c '^/Obsidian Sync' "$RGS_TMP/want-paths")"

# --- failures on purpose
curl -s -XPOST "$U/_control/fail" -d '{"rules":[{"match":"as-update","action":"status","status":500,"count":1}]}' >/dev/null
t_is "injected 500, then normal" "$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" "$U/d/$REL-$nid/as-update") $(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" "$U/d/$REL-$nid/as-update")" "500 200"
curl -s -XPOST "$U/_control/fail" -d '{"rules":[{"match":"as-update","action":"drop"}]}' >/dev/null
t_is "dropped connection" "$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" "$U/d/$REL-$nid/as-update"; echo " $?")" "000 52"
curl -s -XPOST "$U/_control/fail" -d '{"rules":[{"match":"/_blob/","action":"wrong-bytes"}]}' >/dev/null
curl -s -o "$RGS_TMP/blob2" "$url"
t_fails "wrong-bytes blob differs from the file" cmp -s "$RGS_TMP/blob2" "$VAULT$ogg"

curl -s -XPOST "$U/_control/shutdown" >/dev/null
done_testing
