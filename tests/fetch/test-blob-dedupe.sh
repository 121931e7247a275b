#!/usr/bin/env bash
# One batch in which two write ops name the same blob hash (the same image
# at two paths): rgs-fetch downloads it once (one download-url request and
# one blob request, counted by the stand-in) and both ops get the blob; a
# failure of that one download fails both ops alike.
. "$(dirname "$0")/../lib.sh"
. "$RGS_ROOT/tests/standin/lib.sh"
REL=7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d
FOL=1d2c3b4a-5f6e-4d7c-9b8a-796857463524
standin_start si --vault "$VAULT" --relay $REL --folder $FOL --token tok || { notok "stand-in"; done_testing; }
D=$RGS_TMP/data C=$RGS_TMP/data/cache/blobs
mkdir -p "$D"
export RELAY_SERVER_URL=$SI_URL RELAY_SERVER_API_KEY=tok
mapfile -t PNG < <(cd "$VAULT" && find . -name '*.png' | LC_ALL=C sort | head -2 | sed 's/^\.//')
# the first image again at a second path (a new attachment, same bytes)
si_post edit "{\"ops\":[{\"op\":\"create\",\"path\":\"/copy/twin.png\",\"file\":\"$VAULT${PNG[0]}\"}],\"flush\":true}" >/dev/null
si_get tree >"$RGS_TMP/tree.json"
id_of()   { jq -r --arg p "$1" '.entries[$p].id' "$RGS_TMP/tree.json"; }
hash_of() { jq -r --arg p "$1" '.entries[$p].hash' "$RGS_TMP/tree.json"; }
H=$(hash_of "${PNG[0]}")
t_is "the stand-in holds the same bytes at two paths (two ids, one hash)" \
  "$(hash_of /copy/twin.png) $([ "$(id_of /copy/twin.png)" != "$(id_of "${PNG[0]}")" ] && echo distinct)" "$H distinct"
op() { printf '{"v":1,"type":"op","ref":"%s","op":"write","relay":"%s","folder":"%s","path":"%s","source":{"kind":"blob","doc":"%s","hash":"%s"}}\n' \
         "$2" $REL $FOL "${1#/}" "$(id_of "$1")" "$(hash_of "$1")"; }
batch() { op "${PNG[0]}" r1; op /copy/twin.png r2; op "${PNG[1]}" r3; op "${PNG[0]}" r4; echo '{"v":1,"type":"tick","time":1,"final":false}'; }

si_post stats/reset '{}' >/dev/null
batch | rgs-fetch -d "$D" -j 4 >"$RGS_TMP/a.out" 2>"$RGS_TMP/a.err"
t_is "exit 0" "$?" 0
si_get stats >"$RGS_TMP/stats.json"
t_is "two distinct hashes in four ops: two download-url requests, two blob downloads" \
  "$(jq -c '[.download_url, .blob]' "$RGS_TMP/stats.json")" "[2,2]"
t_is "every op comes back with its blob, in input order" \
  "$(jq -r 'select(.type=="op") | "\(.ref) \(.blob == .source.hash and .sha256 == .source.hash)"' "$RGS_TMP/a.out" | tr '\n' ' ')" \
  "r1 true r2 true r3 true r4 true "
t_is "then the tick" "$(tail -1 "$RGS_TMP/a.out" | jq -r .type)" tick
t_diff "the cached blob is the image, byte for byte" "$C/$H" "$VAULT${PNG[0]}"

# a second batch: everything cached, nothing downloaded
si_post stats/reset '{}' >/dev/null
batch | rgs-fetch -d "$D" -j 4 >"$RGS_TMP/b.out" 2>/dev/null
t_is "all cached: no request at all" "$(si_get stats | jq -c '[.download_url, .blob]')" "[0,0]"

# the shared download fails: every op that waited on it fails the same way
rm -f "$C"/*
si_post fail "{\"clear\":true,\"rules\":[{\"match\":\"download-url.*$H\",\"action\":\"status\",\"status\":404,\"count\":-1}]}" >/dev/null
si_post stats/reset '{}' >/dev/null
batch | rgs-fetch -d "$D" -j 4 --retries 0 >"$RGS_TMP/c.out" 2>"$RGS_TMP/c.err"
t_is "one failing hash: exit 1 (some failed)" "$?" 1
t_is "its download was tried once" "$(si_get stats | jq -c '.download_url')" 2
t_is "the three ops that need it fail permanently, the other gets its blob" \
  "$(jq -r '"\(.ref) \(.type) \(.temporary | tostring)"' "$RGS_TMP/c.out" | head -4 | tr '\n' ' ')" \
  "r1 failed false r2 failed false r3 op null r4 failed false "
done_testing
