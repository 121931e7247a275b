#!/usr/bin/env bash
# Temporary downloads in DATA_DIR/cache/blobs (.tmp-*) left by a killed
# rgs-fetch are swept when a later rgs-fetch starts downloading: a stale one
# (old and unlocked) goes; a fresh one, one a live process holds flock(1)
# on, a live download of a concurrent rgs-fetch (even with an old mtime),
# directories, symlinks and every other name stay.
. "$(dirname "$0")/../lib.sh"
. "$RGS_ROOT/tests/standin/lib.sh"
REL=3c2b1a09-8f7e-4d6c-9b5a-493827160f5e
FOL=6e5d4c3b-2a19-4f08-b7e6-d5c4b3a29180
standin_start si --vault "$VAULT" --relay $REL --folder $FOL --token tok || { notok "stand-in"; done_testing; }
D=$RGS_TMP/data C=$RGS_TMP/data/cache/blobs
mkdir -p "$C"
export RELAY_SERVER_URL=$SI_URL RELAY_SERVER_API_KEY=tok
FETCH=(rgs-fetch -d "$D" --retries 0 -v)
si_get tree >"$RGS_TMP/tree.json"
mapfile -t ATT < <(cd "$VAULT" && find . -name '*.png' | LC_ALL=C sort | head -4 | sed 's/^\.//')
id_of()   { jq -r --arg p "$1" '.entries[$p].id' "$RGS_TMP/tree.json"; }
hash_of() { jq -r --arg p "$1" '.entries[$p].hash' "$RGS_TMP/tree.json"; }
blob_op() { printf '{"v":1,"type":"op","ref":"b","op":"write","relay":"%s","folder":"%s","path":"x.png","source":{"kind":"blob","doc":"%s","hash":"%s"}}\n' \
              $REL $FOL "$(id_of "$1")" "$(hash_of "$1")"; }
slow() { si_post fail "{\"clear\":true,\"rules\":[{\"match\":\"_blob/.*/$(hash_of "$1")\",\"action\":\"slow\",\"delay_ms\":$2}]}" >/dev/null; }
# new_tmp: the name of a .tmp-* that is not one of the planted ones, after waiting for it
new_tmp() { local i=0 n
  while [ $i -lt 600 ]; do
    n=$(ls -A "$C" | grep '^\.tmp-[0-9a-f]\{16\}$' | grep -vxF -f "$RGS_TMP/known" | head -1)
    [ -n "$n" ] && { echo "$n"; return 0; }
    i=$((i + 1)); sleep 0.05
  done; return 1; }
: >"$RGS_TMP/known"

# --- planted leftovers -------------------------------------------------------------
old='2 hours ago'
head -c 100000 /dev/urandom >"$C/.tmp-0123456789abcdef"; touch -d "$old" "$C/.tmp-0123456789abcdef"
head -c 5000 /dev/urandom >"$C/.tmp-fedcba9876543210"; touch -d "$old" "$C/.tmp-fedcba9876543210"
echo fresh >"$C/.tmp-fresh0000000000"
echo held >"$C/.tmp-held00000000000"; touch -d "$old" "$C/.tmp-held00000000000"
mkdir "$C/.tmp-dir"; touch -d "$old" "$C/.tmp-dir"
echo outside >"$RGS_TMP/outside"; ln -s "$RGS_TMP/outside" "$C/.tmp-link"; touch -h -d "$old" "$C/.tmp-link"
echo other >"$C/notes.tmp"; touch -d "$old" "$C/notes.tmp"
echo done >"$C/$(printf '%064d' 7)"; touch -d "$old" "$C/$(printf '%064d' 7)"
# another process holds the lock on .tmp-held*, as a live download would
# (the subshell becomes the sleep: killing $HOLDER releases the lock)
( flock -x 7; exec sleep 600 ) 7<"$C/.tmp-held00000000000" &
HOLDER=$!
for ((i = 0; i < 600; i++)); do flock -xn "$C/.tmp-held00000000000" true 2>/dev/null || break; sleep 0.05; done
ls -A "$C" >"$RGS_TMP/known"

# --- a download sweeps --------------------------------------------------------------
blob_op "${ATT[0]}" | "${FETCH[@]}" >"$RGS_TMP/a.out" 2>"$RGS_TMP/a.err"
t_is "rgs-fetch downloads: exit 0" "$?" 0
t_diff "the attachment is in the cache" "$C/$(hash_of "${ATT[0]}")" "$VAULT${ATT[0]}"
t_ok "the old unlocked temporary files are gone" \
  test ! -e "$C/.tmp-0123456789abcdef" -a ! -e "$C/.tmp-fedcba9876543210"
t_ok "a fresh one stays (it may belong to a download that just started)" test -e "$C/.tmp-fresh0000000000"
t_ok "an old one that a live process holds a lock on stays" test -e "$C/.tmp-held00000000000"
t_ok "a .tmp-* directory stays" test -d "$C/.tmp-dir"
t_ok "a .tmp-* symlink stays, its target too" test -L "$C/.tmp-link" -a -e "$RGS_TMP/outside"
t_ok "other names stay (a finished blob, notes.tmp)" test -e "$C/$(printf '%064d' 7)" -a -e "$C/notes.tmp"
t_ok "the sweep is reported with count and bytes" \
  grep -q "removed 2 stale temporary downloads (105000 bytes)" "$RGS_TMP/a.err"
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null   # its lock is gone: the next sweep takes it
ls -A "$C" >"$RGS_TMP/known"

# --- a killed rgs-fetch leaves its download behind ----------------------------------
slow "${ATT[1]}" 8000
blob_op "${ATT[1]}" | "${FETCH[@]}" >/dev/null 2>&1 &
K=$!
dead=$(new_tmp) || dead=""
kill -9 $K 2>/dev/null; wait $K 2>/dev/null
t_ok "killed while downloading: its .tmp-* is left" test -n "$dead" -a -f "$C/$dead"
echo "$dead" >>"$RGS_TMP/known"

# --- concurrently: a live download of another rgs-fetch is never taken -----------
# The live download must outlast the steps up to the second rgs-fetch's
# sweep (a sanitizer build's start included): the stand-in holds its answer
# 15 s.  curl's low-speed limit (below 1 byte/s for --connect-timeout
# seconds, 10 by default) would end that wait early, so 60 s for this one.
slow "${ATT[2]}" 15000
blob_op "${ATT[2]}" | "${FETCH[@]}" --connect-timeout 60 >"$RGS_TMP/live.out" 2>"$RGS_TMP/live.err" &
L=$!
live=$(new_tmp) || live=""
# both look old now: only the lock tells the live one from the dead one
# (-c: never create one; a live file already gone must not come back empty)
touch -c -d "$old" "$C/$dead" "$C/$live"
blob_op "${ATT[3]}" | "${FETCH[@]}" >"$RGS_TMP/c.out" 2>"$RGS_TMP/c.err"
t_is "a second rgs-fetch downloads meanwhile: exit 0" "$?" 0
kill -0 $L 2>/dev/null || diag "the live download ended before the second rgs-fetch did: the checks below do not test a live download"
t_ok "it removed the killed run's file" test ! -e "$C/$dead"
t_ok "it left the live download's file" test -n "$live" -a -f "$C/$live"
wait $L; st=$?
t_is "the live download still succeeds" "$st" 0
t_diff "... and its attachment is in the cache, byte for byte" "$C/$(hash_of "${ATT[2]}")" "$VAULT${ATT[2]}"
t_ok "the file whose lock holder exited went too" test ! -e "$C/.tmp-held00000000000"
t_is "no temporary download left but the fresh planted one" \
  "$(ls -A "$C" | grep '^\.tmp-' | grep -v -e '^\.tmp-dir$' -e '^\.tmp-link$' | tr '\n' ' ')" ".tmp-fresh0000000000 "

# --- a dry run downloads nothing, so it sweeps nothing ------------------------------
head -c 10 /dev/urandom >"$C/.tmp-00000000000000aa"; touch -d "$old" "$C/.tmp-00000000000000aa"
rm -f "$C/$(hash_of "${ATT[1]}")"
blob_op "${ATT[1]}" | "${FETCH[@]}" -n >/dev/null 2>&1
t_ok "dry run (-n): nothing swept" test -e "$C/.tmp-00000000000000aa"
done_testing
