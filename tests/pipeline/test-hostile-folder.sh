#!/usr/bin/env bash
# Hostile folder documents through the real fetch path: the stand-in serves
# (as its Yjs folder document, built by the real yjs) filemeta_v0 / docs
# keys with '..', '.git' in any case, the NTFS short name GIT~1, absolute
# paths, NUL and control characters, an over-long component and a path
# through a symlink planted in the work tree, each pointing at a real note
# or attachment.  rgs-fetch | rgs-plan | rgs-fetch | rgs-apply refuses
# each with a refused record naming the key, writes the harmless entries,
# and writes nothing outside the work tree, nothing into .git, nothing
# through the symlink.
. "$(dirname "$0")/../lib.sh"
. "$RGS_ROOT/tests/standin/lib.sh"
for t in rgs-fetch rgs-plan rgs-apply; do command -v $t >/dev/null || { notok "$t built"; done_testing; }; done
REL=4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f60718
FOL=5f6a7b8c-9d0e-4f1a-b2c3-d4e5f6071829
mkdir -p "$RGS_TMP/vault"; printf 'harmless\n' >"$RGS_TMP/vault/ok.md"
PNG=$(cd "$VAULT" && find . -name '*.png' | LC_ALL=C sort | head -1); PNG=$VAULT/${PNG#./}
standin_start si --vault "$RGS_TMP/vault" --relay $REL --folder $FOL --token tok || { notok "stand-in"; done_testing; }
D=$RGS_TMP/data
mkdir -p "$D" "$RGS_TMP/outside"
cat >"$D/git_connectors.toml" <<TOML
[[git_connector]]
shared_folder_id = "$FOL"
relay_id = "$REL"
url = "https://git.example.invalid/x.git"
TOML
REPO=$D/repos/$REL/$FOL
git init -q "$REPO"
ln -s "$RGS_TMP/outside" "$REPO/evil"          # planted: a symlink to outside the tree
export RELAY_SERVER_URL=$SI_URL RELAY_SERVER_API_KEY=tok

long=/$(printf 'x%.0s' $(seq 256)).md
# key<TAB>reason (what rgs-plan says; rgs_path.h)
cat >"$RGS_TMP/keys" <<EOF2
/../escape.md	'..' component
/a/../../escape2.md	'..' component
/.git/config	'.git' component
/.GIT/hooks/pre-commit	'.git' component
/sub/GIT~1/config	'.git' component
//etc/rgs-passwd	absolute path
/nul\u0000byte.md	control character
/ctl\u0001.md	control character
/esc\u001b[31m.md	control character
$long	component longer than 255 bytes
/evil/pwn.md	a symlink is in the way
EOF2
nkeys=$(wc -l <"$RGS_TMP/keys")
# each hostile key points at a real note ("pwned N") moved there by raw
# filemeta_v0 and docs edits; one more at a real attachment
ops='[]' i=0
while IFS=$'\t' read -r key why; do
  i=$((i + 1))
  # the key as a JSON string; jq -R escapes its backslashes, and undoing
  # that for "\u" turns the list's \u0000-style escapes into JSON escapes
  # (a NUL cannot pass through a shell variable)
  k=$(printf '%s' "$key" | jq -R .)
  k=${k//\\\\u/\\u}
  r=$(si_post edit "{\"ops\":[{\"op\":\"create\",\"path\":\"/h$i.md\",\"text\":\"pwned $i\"}],\"flush\":true}")
  id=$(jq -r '.results[0].doc' <<<"$r")
  si_post edit "{\"flush\":true,\"ops\":[
    {\"op\":\"raw-filemeta\",\"key\":$k,\"value\":{\"version\":0,\"id\":\"$id\",\"type\":\"markdown\"}},
    {\"op\":\"raw-docs\",\"key\":$k,\"value\":\"$id\"},
    {\"op\":\"raw-filemeta\",\"key\":\"/h$i.md\",\"value\":null},
    {\"op\":\"raw-docs\",\"key\":\"/h$i.md\",\"value\":null}]}" >/dev/null
done <"$RGS_TMP/keys"
si_post edit "{\"ops\":[{\"op\":\"create\",\"path\":\"/img.png\",\"file\":\"$PNG\"}],\"flush\":true}" >/dev/null
curl -s -H "Authorization: Bearer tok" "$SI_URL/d/$REL-$FOL/as-update" >"$RGS_TMP/folder.bin"
# the attachment's meta, read from the served update by yjs, under a .git key
node -e '
const Y = require("yjs"); const d = new Y.Doc();
Y.applyUpdate(d, require("fs").readFileSync(process.argv[1]));
console.log(JSON.stringify(d.getMap("filemeta_v0").get("/img.png")));' "$RGS_TMP/folder.bin" >"$RGS_TMP/img.json"
si_post edit "{\"flush\":true,\"ops\":[{\"op\":\"raw-filemeta\",\"key\":\"/.Git/hooks/post-checkout\",\"value\":$(cat "$RGS_TMP/img.json")},
  {\"op\":\"raw-filemeta\",\"key\":\"/img.png\",\"value\":null}]}" >/dev/null
printf '/.Git/hooks/post-checkout\t%s\n' "'.git' component" >>"$RGS_TMP/keys"
nkeys=$((nkeys + 1))

# the served folder document holds every hostile key (independent: yjs)
curl -s -H "Authorization: Bearer tok" "$SI_URL/d/$REL-$FOL/as-update" >"$RGS_TMP/folder.bin"
node -e '
const Y = require("yjs"); const d = new Y.Doc();
Y.applyUpdate(d, require("fs").readFileSync(process.argv[1]));
for (const k of d.getMap("filemeta_v0").keys()) console.log(JSON.stringify(k));' "$RGS_TMP/folder.bin" |
  LC_ALL=C sort >"$RGS_TMP/served"
cut -f1 "$RGS_TMP/keys" | while IFS= read -r k; do printf '%s' "$k" | jq -R . | sed 's/\\\\u/\\u/g'; done |
  jq -c . | LC_ALL=C sort >"$RGS_TMP/hostile"
t_is "the stand-in's folder document serves all $nkeys hostile keys" \
  "$(LC_ALL=C comm -12 "$RGS_TMP/served" "$RGS_TMP/hostile" | wc -l)" "$nkeys"

snapshot() { # every path under DIR but the work tree's own files, with type and size
  # (a directory's size is left out: on tmpfs, btrfs and xfs it grows with its entries)
  (cd "$1" && find . -path "./data/repos/$REL/$FOL" -prune -o -path ./data/cache -prune -o \
    -type d -printf '%y %p\n' -o -printf '%y %p %s\n' | LC_ALL=C sort)
}
dotgit() { (cd "$REPO/.git" && find . -printf '%y %p %s\n' | LC_ALL=C sort | sha256sum); }
mkdir -p "$RGS_TMP/w"   # the test's own files from here on
before=$(snapshot "$RGS_TMP") gitbefore=$(dotgit)

printf '{"v":1,"type":"reconcile","ref":"rc:%s:%s","relay":"%s","folder":"%s","reason":"manual"}\n{"v":1,"type":"tick","time":1,"final":true}\n' \
  $REL $FOL $REL $FOL >"$RGS_TMP/w/in"
st=0
rgs-fetch -d "$D" -j 4 <"$RGS_TMP/w/in" | rgs-plan -d "$D" | tee "$RGS_TMP/w/plan.out" | rgs-fetch -d "$D" |
  rgs-apply -d "$D" >"$RGS_TMP/w/out" 2>"$RGS_TMP/w/err" || st=$?
t_is "the pipeline ends with exit 0 (refusals are reported, not failures)" "$st" 0
t_ok "the harmless note is written" cmp -s "$REPO/ok.md" "$RGS_TMP/vault/ok.md"
jq -c 'select(.type=="refused") | [.vpath, .reason]' "$RGS_TMP/w/plan.out" | LC_ALL=C sort >"$RGS_TMP/w/refused.all"
while IFS=$'\t' read -r key why; do
  # a NUL in a key reaches rgs-plan as U+0001 (rgs_folder.h): refused the same way
  jq -cn --arg w "$why" --argjson k "$(printf '%s' "$key" | jq -R . | sed 's/\\\\u/\\u/g; s/\\u0000/\\u0001/g')" '[$k, $w]'
done <"$RGS_TMP/keys" | LC_ALL=C sort >"$RGS_TMP/w/refused.want"
LC_ALL=C comm -12 "$RGS_TMP/w/refused.all" "$RGS_TMP/w/refused.want" >"$RGS_TMP/w/refused.got"
t_diff "one refused record per hostile key, with its reason" "$RGS_TMP/w/refused.got" "$RGS_TMP/w/refused.want"
# the other refusals: implied parent folders that carry the hostile component
jq -r '.[0]' "$RGS_TMP/w/refused.want" >"$RGS_TMP/w/keys.json"
t_is "every other refused record is an implied parent folder of a hostile key" \
  "$(LC_ALL=C comm -23 "$RGS_TMP/w/refused.all" "$RGS_TMP/w/refused.want" | jq -r --rawfile k "$RGS_TMP/w/keys.json" '
      .[0] as $p | select([$k | split("\n")[] | select(length > 0) | startswith($p + "/")] | any | not) | $p')" ""
t_is "ops reach rgs-apply only for the harmless note and the harmless parents (/a, /sub)" \
  "$(jq -r 'select(.type=="op" and .op!="filemeta") | "\(.op) \(.vpath)"' "$RGS_TMP/w/plan.out" | LC_ALL=C sort | tr '\n' ' ')" \
  "mkdir /a mkdir /sub write /ok.md "
t_is "rgs-apply applied only those" \
  "$(jq -r 'select(.type=="applied" or .type=="failed") | "\(.type) \(.path)"' "$RGS_TMP/w/out" | LC_ALL=C sort | tr '\n' ' ')" \
  "applied a applied ok.md applied sub "
t_is "the work tree holds only those and the planted symlink" \
  "$(cd "$REPO" && find . -path ./.git -prune -o -print | LC_ALL=C sort | tr '\n' ' ')" ". ./a ./evil ./ok.md ./sub "
t_is "nothing behind the symlink" "$(ls -A "$RGS_TMP/outside")" ""
t_is ".git unchanged" "$(dotgit)" "$gitbefore"
after=$(snapshot "$RGS_TMP")
t_is "outside the work tree: only the data directory's own files are new" \
  "$(diff <(echo "$before") <(echo "$after") | grep '^>' | grep -v -e ' ./data/state' -e ' ./data/locks' -e ' ./data/tmp' \
     -e ' ./w/' -e ' ./si\.err ' | tr '\n' ' ')" ""
t_is "no note content anywhere outside the stand-in's inputs" \
  "$(grep -rl 'pwned' "$D" "$RGS_TMP/outside" 2>/dev/null | tr '\n' ' ')" ""
done_testing
