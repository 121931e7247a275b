#!/usr/bin/env bash
# The filemeta_v0 + docs merge (relay.md §3.1) for legacy entries served by
# the stand-in: a `type:"document"` entry counts as markdown, so without a
# docs entry it is deleted (an old client deleted it) and with one it is
# live.  Truth: the stand-in's live entries as the plugin reads them
# (GET /_control/tree, computed by yjs from the same folder document).
. "$(dirname "$0")/../lib.sh"
. "$RGS_ROOT/tests/standin/lib.sh"
REL=2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901
FOL=3c4d5e6f-7081-4293-a4b5-c6d7e8f90a12
mkdir -p "$RGS_TMP/vault/sub"; printf 'hello' >"$RGS_TMP/vault/kept.md"
standin_start si --vault "$RGS_TMP/vault" --relay $REL --folder $FOL --token tok || { notok "stand-in"; done_testing; }
D=$RGS_TMP/data; mkdir -p "$D"
cat >"$D/git_connectors.toml" <<TOML
[[git_connector]]
shared_folder_id = "$FOL"
relay_id = "$REL"
url = "https://git.example.com/notes.git"
TOML
export RELAY_SERVER_URL=$SI_URL RELAY_SERVER_API_KEY=tok
U1=aaaaaaaa-1111-4000-8000-000000000001 U2=aaaaaaaa-1111-4000-8000-000000000002
U3=aaaaaaaa-1111-4000-8000-000000000003 U4=aaaaaaaa-1111-4000-8000-000000000004
si_post edit "{\"flush\":true,\"ops\":[
 {\"op\":\"raw-filemeta\",\"key\":\"/legacy-dead.md\",\"value\":{\"version\":0,\"id\":\"$U1\",\"type\":\"document\"}},
 {\"op\":\"raw-filemeta\",\"key\":\"/old/legacy-live.md\",\"value\":{\"version\":0,\"id\":\"$U2\",\"type\":\"document\"}},
 {\"op\":\"raw-docs\",\"key\":\"/old/legacy-live.md\",\"value\":\"$U2\"},
 {\"op\":\"raw-filemeta\",\"key\":\"/md-dead.md\",\"value\":{\"version\":0,\"id\":\"$U3\",\"type\":\"markdown\"}},
 {\"op\":\"raw-docs\",\"key\":\"/docs-only.md\",\"value\":\"$U4\"}]}" >/dev/null
printf '{"v":1,"type":"reconcile","ref":"r","relay":"%s","folder":"%s","reason":"manual"}\n' $REL $FOL |
  rgs-fetch -d "$D" >"$RGS_TMP/rc.out" 2>"$RGS_TMP/rc.err"
t_is "reconcile: exit 0" "$?" 0
si_get tree | jq -r '.entries|keys[]' | LC_ALL=C sort >"$RGS_TMP/want"
head -1 "$RGS_TMP/rc.out" | jq -r '.entries|with_entries(select(.value.implied != true))|keys[]' | LC_ALL=C sort >"$RGS_TMP/got"
t_diff "snapshot entries (implied folders aside) = the stand-in's live entries" "$RGS_TMP/got" "$RGS_TMP/want"
t_is "type:document without a docs entry is deleted, like markdown" \
  "$(head -1 "$RGS_TMP/rc.out" | jq -c '[.entries | has("/legacy-dead.md", "/md-dead.md")]')" "[false,false]"
t_is "type:document with its docs entry is live (meta unchanged), its folder implied" \
  "$(head -1 "$RGS_TMP/rc.out" | jq -c '[.entries["/old/legacy-live.md"].type, .entries["/old/legacy-live.md"].id == "'$U2'", .entries["/old"].type]')" \
  '["document",true,"folder"]'
t_is "a docs-only entry is a live markdown note" \
  "$(head -1 "$RGS_TMP/rc.out" | jq -r '.entries["/docs-only.md"].type')" markdown
done_testing
