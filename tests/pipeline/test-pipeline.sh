#!/usr/bin/env bash
# The Relay side of the pipeline against the stand-in:
#   rgs-fetch | rgs-plan | rgs-fetch | rgs-apply
# A full sync gives a tree equal to the vault byte for byte (canvases in
# the chosen export, checked against the python3 / plugin-format oracles),
# then each scripted edit from Yjs clients (webhooks captured, coalesced
# into event records) gives exactly the expected file changes.
. "$(dirname "$0")/../lib.sh"
. "$RGS_ROOT/tests/standin/lib.sh"
for t in rgs-fetch rgs-plan rgs-apply rgs-commit; do
  command -v $t >/dev/null || { notok "$t built"; done_testing; }
done
REL=2d3c4b5a-6978-4a8b-9c0d-1e2f3a4b5c6d
FOL=9e8d7c6b-5a49-4838-a271-605f4e3d2c1b
CANVAS=${RGS_PIPELINE_CANVAS:-python}
whport=$(free_port)
node -e '
const http = require("http"), fs = require("fs");
http.createServer((q, s) => { let b = ""; q.on("data", (c) => b += c);
  q.on("end", () => { fs.appendFileSync(process.argv[1], b + "\n"); s.end("{}"); }); })
  .listen(+process.argv[2], "127.0.0.1");' "$RGS_TMP/hooks" "$whport" &
wait_port "$whport" 5
standin_start si --vault "$VAULT" --relay $REL --folder $FOL --webhook-url "http://127.0.0.1:$whport/webhooks" \
  || { notok "stand-in"; done_testing; }
D=$RGS_TMP/data
mkdir -p "$D"
git init -q --bare "$RGS_TMP/remote.git"
cat >"$D/git_connectors.toml" <<TOML
[[git_connector]]
shared_folder_id = "$FOL"
relay_id = "$REL"
url = "$RGS_TMP/remote.git"
TOML
rgs-commit -q -d "$D" --prepare || notok "rgs-commit --prepare"
REPO=$D/repos/$REL/$FOL
export RELAY_SERVER_URL=$SI_URL RELAY_SERVER_API_KEY=$SI_TOKEN RGS_CANVAS_FORMAT=$CANVAS

# one batch through the Relay side of the pipeline; applied/held/failed records in $RGS_TMP/out
batch() {
  rgs-fetch -d "$D" -j 4 | rgs-plan -d "$D" | rgs-fetch -d "$D" | rgs-apply -d "$D" >"$RGS_TMP/out" 2>"$RGS_TMP/err"
}
# the webhooks since the last call, coalesced per document into event records (what rgs-queue does)
events() {
  touch "$RGS_TMP/hooks"
  mv "$RGS_TMP/hooks" "$RGS_TMP/hooks.batch"
  jq -c -s --arg r $REL 'group_by(.payload.doc_id)[] |
    {v:1, type:"event", ref:("ev:" + $r + ":" + (.[0].payload.doc_id[37:])), relay:$r,
     resource:(.[0].payload.doc_id[37:]), timestamp:(map(.payload.timestamp)|max),
     users:([.[].payload.user|select(.)]|unique), event_ids:[.[].eventId], count:length, spool:[]}' "$RGS_TMP/hooks.batch"
}
# what the folder should look like: the stand-in's export, canvases in the chosen format
expected() {
  rm -rf "$RGS_TMP/want"
  mkdir -p "$RGS_TMP/want"
  si_post export "{\"dir\":\"$RGS_TMP/want\"}" >/dev/null
  if [ "$CANVAS" != obsidian ]; then
    (cd "$RGS_TMP/want" && find . -name '*.canvas') | while IFS= read -r c; do
      si_get "doc?path=$(jq -rn --arg p "${c#.}" '$p|@uri')" | jq -c .canvas |
        python3 "$RGS_ROOT/tests/fetch/canvas_oracle.py" "$CANVAS" | tr -d '\0' >"$RGS_TMP/want/$c"
    done
  fi
}
same_tree() { # NAME
  expected
  if diff -r -x .git "$RGS_TMP/want" "$REPO" >"$RGS_TMP/diff"; then ok "$1"
  else notok "$1"; head -20 "$RGS_TMP/diff" | sed 's/^/# /'; fi
}
applied() { jq -r 'select(.type=="applied") | .op + " " + (if .from then .from + " -> " else "" end) + .path' "$RGS_TMP/out" | LC_ALL=C sort | tr '\n' '|'; }
edit() { si_post edit "{\"ops\":[$1],\"flush\":true}" >"$RGS_TMP/edit.out"; grep -q '"ok":true' "$RGS_TMP/edit.out" || diag "edit failed: $(cat "$RGS_TMP/edit.out")"; }

# ---------------------------------------------------------------- full sync
printf '{"v":1,"type":"reconcile","ref":"rc:%s:%s","relay":"%s","folder":"%s","reason":"startup"}\n' $REL $FOL $REL $FOL | batch
t_is "full sync: exit 0, no failed/held/refused records" "$? $(jq -r 'select(.type=="failed" or .type=="held" or .type=="refused")' "$RGS_TMP/out" | wc -l)" "0 0"
same_tree "full sync: the tree equals the vault byte for byte ($CANVAS canvases)"
t_is "... including umlauts, spaces, images and the sound file" \
  "$(cd "$REPO" && ls 'Erweiterungen/Tägliche Notizen.md' Attachments/audio/*.ogg favicon.ico | wc -l)" 3
diff -r -x .git -x '*.canvas' "$VAULT" "$REPO" >/dev/null
t_is "... and every non-canvas file is the vault's own file" "$?" 0
rm -f "$RGS_TMP/hooks"
printf '{"v":1,"type":"reconcile","ref":"rc:%s:%s","relay":"%s","folder":"%s","reason":"interval"}\n' $REL $FOL $REL $FOL | batch
t_is "a second reconcile changes nothing" "$(applied)" ""

# ---------------------------------------------------------------- scripted edits
edit '{"op":"type","path":"/Erweiterungen/Tägliche Notizen.md","pos":0,"text":"Heute: Grüße 👋\n","user":"alice"}'
events | batch
t_is "typing in a note: that note is written" "$(applied)" "write Erweiterungen/Tägliche Notizen.md|"
same_tree "typing: tree as expected"

edit '{"op":"type","path":"/Startseite.md","text":"A","user":"alice"},{"op":"type","path":"/Startseite.md","text":"B","user":"bob"},{"op":"type","path":"/Teams/Sync für Teams.md","text":"C","user":"carol"}'
events >"$RGS_TMP/ev"
t_is "two clients on one note and a third elsewhere: two events" "$(wc -l <"$RGS_TMP/ev") $(jq -c 'select(.users|length==2)|.users' "$RGS_TMP/ev")" '2 ["alice","bob"]'
batch <"$RGS_TMP/ev"
t_is "... two files written" "$(applied)" "write Startseite.md|write Teams/Sync für Teams.md|"
same_tree "several clients: tree as expected"

edit '{"op":"rename","from":"/Obsidian/Über Obsidian.md","to":"/Obsidian/Über Obsidian (alt).md","user":"bob"}'
events | batch
t_is "rename a note: one move" "$(applied)" "move Obsidian/Über Obsidian.md -> Obsidian/Über Obsidian (alt).md|"
same_tree "rename: tree as expected"

n_sync=$(cd "$REPO/Obsidian Sync" && find . -type f | wc -l)
edit '{"op":"rename","from":"/Obsidian Sync","to":"/Dienste/Obsidian Sync","user":"carol"}'
events | batch
t_is "move a folder: every file in it moved, nothing else written" \
  "$(jq -r 'select(.type=="applied" and .op=="move")|.path' "$RGS_TMP/out" | grep -c '^Dienste/Obsidian Sync/') $(jq -r 'select(.type=="applied" and .op=="write")' "$RGS_TMP/out" | wc -l)" "$n_sync 0"
same_tree "folder move: tree as expected"

edit '{"op":"delete","path":"/Teams/Kommerzielle Lizenz.md","user":"alice"}'
events | batch
t_is "delete a note: one delete" "$(applied)" "delete Teams/Kommerzielle Lizenz.md|"
same_tree "delete: tree as expected"

printf '\x89PNG\r\n\x1a\nnot really a png, but new bytes\n' >"$RGS_TMP/new.png"
edit "{\"op\":\"replace\",\"path\":\"/favicon-96x96.png\",\"file\":\"$RGS_TMP/new.png\",\"user\":\"bob\"}"
events | batch
t_is "replace an attachment: that file written" "$(applied)" "write favicon-96x96.png|"
t_diff "... with the new bytes" "$REPO/favicon-96x96.png" "$RGS_TMP/new.png"
same_tree "replace: tree as expected"

edit '{"op":"empty","path":"/Obsidian/Danksagungen.md","user":"carol"}'
events | batch
t_is "empty a note: written, now 0 bytes" "$(applied) $(stat -c %s "$REPO/Obsidian/Danksagungen.md")" "write Obsidian/Danksagungen.md| 0"
same_tree "empty: tree as expected"

edit '{"op":"create","path":"/Neu/Idee – Ärger & Lösung.md","text":"# Neu\n\nÄrger gelöst ✓\n","user":"alice"}'
events | batch
t_is "create a note (new folder): mkdir and write" "$(applied)" "mkdir Neu|write Neu/Idee – Ärger & Lösung.md|"
same_tree "create: tree as expected"

edit '{"op":"canvas","path":"/Projektplan.canvas","card_text":{"8a1f2c3d4e5f6071":"# Projektplan\n\nZiele für Q3 🚀"},"set_nodes":[{"id":"f00dfeedf00dfeed","type":"text","text":"Neue Karte","x":12.5,"y":-40,"width":200,"height":3000000000}],"delete_edges":["0718293041526374"],"user":"bob"}'
events | batch
t_is "edit a canvas: the canvas written" "$(applied)" "write Projektplan.canvas|"
same_tree "canvas edit: tree as expected"

edit '{"op":"create","path":"/Neu/Nie geschrieben.md","register_only":true,"user":"alice"}'
events | batch
t_is "a note Relay never got content for: held, not written" \
  "$(jq -r 'select(.type=="held")|.reason' "$RGS_TMP/out") $(applied) $([ -e "$REPO/Neu/Nie geschrieben.md" ] && echo exists || echo absent)" \
  "never-written  absent"

printf '{"v":1,"type":"reconcile","ref":"rc:%s:%s","relay":"%s","folder":"%s","reason":"interval"}\n' $REL $FOL $REL $FOL | batch
t_is "a reconcile after all edits changes nothing" "$(applied)" ""
done_testing
