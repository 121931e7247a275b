#!/usr/bin/env bash
# Git area benchmark (make bench): committing one changed note with
# rgs-commit (a tree built from the parent's tree and the journal's paths,
# the changed index entries through git update-index on a split index)
# against `git add -A && git commit` of the same change on the same
# repository, for 1,000, 10,000 and 50,000 files in directories of 100,
# and 50,000 files in a deep tree (7 levels, 4 directories a level, ~12
# files a directory); then push times (commit+push, and push alone) to a local bare repository and over
# SSH on loopback.  Medians of ROUNDS runs, measured in this run on this
# machine.  Repositories are made here, in a temp dir.
#   BENCH_SIZES="1000 10000 50000 50000deep" BENCH_ROUNDS=5 bash tests/bench/bench-git.sh
# Checked target (issue: "at most half the git CLI's time at 10,000
# files"): when 10000 is among the sizes, rgs-commit's median must be at
# most TARGET_RATIO (0.5) times the git CLI's median (git-cli column, no
# fsync); a line "PASS target: ..." or "FAIL target: ..." says which, and
# the script exits 1 on FAIL (so `make bench` fails).
# BENCH_BASE_BIN=DIR adds a column for the rgs-commit in DIR (an older
# build), measured in the same rounds on its own copy of the repository.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${RGS_BIN:-$top/build/bin}
export PATH="$BIN:$PATH"
BASE_BIN=${BENCH_BASE_BIN:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rgs-bench-git.XXXXXX")
sshd_pid=""
trap '[ -n "$sshd_pid" ] && kill $sshd_pid 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp"
SIZES=${BENCH_SIZES:-1000 10000 50000 50000deep}
ROUNDS=${BENCH_ROUNDS:-5}
TARGET_SIZE=10000 TARGET_RATIO=${BENCH_TARGET_RATIO:-0.5}
failed=0
R=0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b F=11111111-2222-3333-4444-555555555555
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.org GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.org
unset SSH_PRIVATE_KEY SSH_KNOWN_HOSTS RGS_GIT_CONFIG_FILE

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", (b - a) * 1000}'; }

# note_dir I LAYOUT: the directory of note I: notes/dNNN (100 notes each),
# or for "deep" notes/aX/bX/cX/dX/eX/fX (X in 0..3, ~12 notes each)
note_dir() {
  if [ "$2" = deep ]; then
    awk -v i="$1" 'BEGIN { g = int(i / 12); s = "notes"; split("a b c d e f", l, " ");
      for (k = 1; k <= 6; k++) { s = s "/" l[k] (g % 4); g = int(g / 4) } print s }'
  else printf 'notes/d%03d\n' $(($1 / 100)); fi
}
make_repo() { # DIR N LAYOUT: N notes, committed
  local d=$1 n=$2 layout=$3
  git init -q -b main "$d"
  awk -v n="$n" -v d="$d" -v deep="$([ "$layout" = deep ] && echo 1 || echo 0)" 'BEGIN {
      split("a b c d e f", l, " ");
      for (i = 0; i < n; i++) {
        if (deep) { g = int(i / 12); dir = d "/notes"; for (k = 1; k <= 6; k++) { dir = dir "/" l[k] (g % 4); g = int(g / 4) } }
        else dir = sprintf("%s/notes/d%03d", d, int(i / 100));
        if (!(dir in made)) { system("mkdir -p " dir); made[dir] = 1 }
        f = sprintf("%s/n%05d.md", dir, i);
        printf "# Note %d\n\nSome text of note %d.\n", i, i > f; close(f) } }'
  git -C "$d" config gc.auto 0   # no background gc while measuring
  git -C "$d" add -A && git -C "$d" commit -q -m initial && git -C "$d" gc -q
}
# tick_time BINDIR DATA PATH: journal PATH (as during rgs-apply), then time the commit at the tick (ms)
tick_time() {
  printf '{"v":1,"type":"applied","relay":"%s","folder":"%s","op":"write","path":"%s","users":[],"time":1}\n' "$R" "$F" "$3" |
    "$1/rgs-commit" -q -d "$2" >/dev/null
  local t0 t1
  sync   # syncfs flushes the whole file system: start from what the others left written out
  t0=$(now); printf '{"v":1,"type":"tick","time":100,"final":true}\n' | "$1/rgs-commit" -q -d "$2" >/dev/null; t1=$(now)
  ms "$t0" "$t1"
}

echo "commit of one changed note (median and minimum of $ROUNDS, ms) on $(uname -n), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)."
echo "rgs-commit: the tick's whole run (process start, config, journal, blob + trees from the parent's"
echo "tree, git update-index of the changed entries, commit; made durable with one syncfs)."
echo "git-cli: 'git add -A && git commit -q' (git's default: no fsync); git-cli-fsync: the same with"
echo "core.fsync=all, as durable as rgs-commit.  ratio = rgs-commit / git-cli (medians).  Every round"
echo "visits every size in turn, so a busy moment of the machine hits all sizes alike; each rgs-commit"
echo "run starts after a sync(1), so its syncfs writes out its own changes, not the git CLI's."
[ -n "$BASE_BIN" ] && echo "base: the rgs-commit in $BASE_BIN, same rounds, its own copy of the repository."
declare -A ours theirs durable base
for size in $SIZES; do
  n=${size%deep} layout=flat
  [ "$n" != "$size" ] && layout=deep
  D=$tmp/data$size
  mkdir -p "$D/repos/$R"
  make_repo "$D/repos/$R/$F" "$n" "$layout"
  cp -a "$D/repos/$R/$F" "$tmp/cli$size"
  if [ -n "$BASE_BIN" ]; then mkdir -p "$tmp/base$size/repos/$R"; cp -a "$D/repos/$R/$F" "$tmp/base$size/repos/$R/$F"; fi
  ours[$size]="" theirs[$size]="" durable[$size]="" base[$size]=""
done
sync   # rgs-commit's syncfs would otherwise also write out the repositories just made
for i in $(seq 1 "$ROUNDS"); do
  for size in $SIZES; do
    layout=flat; [ "${size%deep}" != "$size" ] && layout=deep
    D=$tmp/data$size W=$tmp/data$size/repos/$R/$F
    f=$(note_dir 0 "$layout")/n0000$((i % 10)).md
    echo "edit $i" >>"$W/$f"
    ours[$size]+=" $(tick_time "$BIN" "$D" "$f")"
    if [ -n "$BASE_BIN" ]; then
      echo "edit $i" >>"$tmp/base$size/repos/$R/$F/$f"
      base[$size]+=" $(tick_time "$BASE_BIN" "$tmp/base$size" "$f")"
    fi
    echo "edit $i" >>"$tmp/cli$size/$f"
    t0=$(now); (cd "$tmp/cli$size" && git add -A && git commit -q -m "Auto-sync"); t1=$(now)
    theirs[$size]+=" $(ms "$t0" "$t1")"
    echo "again $i" >>"$tmp/cli$size/$f"
    t0=$(now); (cd "$tmp/cli$size" && git add -A && git -c core.fsync=all -c core.fsyncMethod=fsync commit -q -m "Auto-sync"); t1=$(now)
    durable[$size]+=" $(ms "$t0" "$t1")"
  done
done
med() { printf '%s\n' $1 | median; }
least() { printf '%s\n' $1 | sort -n | head -1; }
printf '%-11s %18s %12s %14s %8s' files "rgs-commit (min)" git-cli git-cli-fsync ratio
[ -n "$BASE_BIN" ] && printf ' %18s' "base (min)"
echo
for size in $SIZES; do
  W=$tmp/data$size/repos/$R/$F
  a=$(med "${ours[$size]}") b=$(med "${theirs[$size]}") c=$(med "${durable[$size]}")
  [ "$(git -C "$W" rev-list --count HEAD)" = $((ROUNDS + 1)) ] || echo "(rgs-commit made $(git -C "$W" rev-list --count HEAD) commits!)"
  git -C "$W" diff-index --cached --quiet HEAD -- || echo "(the index of rgs-commit's repository does not match HEAD!)"
  printf '%-11s %18s %12s %14s %8s' "$size" "$a ($(least "${ours[$size]}"))" "$b" "$c" \
    "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}')"
  [ -n "$BASE_BIN" ] && printf ' %18s' "$(med "${base[$size]}") ($(least "${base[$size]}"))"
  echo
  rm -rf "$tmp/cli$size" "$tmp/base$size"
  if [ "$size" = "$TARGET_SIZE" ]; then
    verdict=$(awk -v a="$a" -v b="$b" -v r="$TARGET_RATIO" 'BEGIN {print (a <= r * b) ? "PASS" : "FAIL"}')
    target_line="$verdict target: at $TARGET_SIZE files rgs-commit $a ms <= $TARGET_RATIO x git-cli $b ms ($(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}'))"
    [ "$verdict" = PASS ] || failed=1
  fi
done
if [ -n "${target_line:-}" ]; then echo "$target_line"
else echo "target: not checked ($TARGET_SIZE not among the sizes: $SIZES)"; fi

# ---- push times (one new commit per push), 1,000-file repository
echo
echo "push of one new commit (median of $ROUNDS, ms): rgs-commit tick that commits and pushes;"
echo "rgs-commit push only (a tick with nothing pending whose branch is one commit ahead: process"
echo "start, config, git push); 'git push' alone of the same kind of commit.  ratio = push only / git push"
n=1000
git clone -q --bare "$tmp/data$n/repos/$R/$F" "$tmp/bare.git" 2>/dev/null || { make_repo "$tmp/seed" $n flat; git clone -q --bare "$tmp/seed" "$tmp/bare.git"; }
bench_push() { # LABEL URL [env...]
  local label=$1 url=$2; shift 2
  local D=$tmp/push-$label; rm -rf "$D"; mkdir -p "$D"
  printf '[[git_connector]]\nshared_folder_id = "%s"\nrelay_id = "%s"\nurl = "%s"\n' "$F" "$R" "$url" >"$D/git_connectors.toml"
  env "$@" rgs-commit -q -d "$D" --prepare || { echo "$label: prepare failed"; return; }
  local W=$D/repos/$R/$F ours=() pushonly=() cli=()
  git clone -q "$url" "$tmp/cli-$label" 2>/dev/null || env "$@" bash -c 'true'
  for i in $(seq 1 "$ROUNDS"); do
    echo "push $i" >>"$W/notes/d001/n00100.md"
    printf '{"v":1,"type":"applied","relay":"%s","folder":"%s","op":"write","path":"notes/d001/n00100.md","users":[],"time":1}\n' "$R" "$F" | env "$@" rgs-commit -q -d "$D" >/dev/null
    t0=$(now); printf '{"v":1,"type":"tick","time":100,"final":true}\n' | env "$@" rgs-commit -q -d "$D" >"$tmp/o"; t1=$(now)
    grep -q '"result":"ok"' "$tmp/o" || echo "$label: push $i did not succeed: $(cat "$tmp/o")"
    ours+=("$(ms "$t0" "$t1")")
    echo "ahead $i" >>"$W/notes/d001/n00102.md"
    git -C "$W" commit -qam "ahead $i"
    t0=$(now); printf '{"v":1,"type":"tick","time":100,"final":true}\n' | env "$@" rgs-commit -q -d "$D" >"$tmp/o"; t1=$(now)
    grep -q '"result":"ok"' "$tmp/o" || echo "$label: push-only $i did not succeed: $(cat "$tmp/o")"
    pushonly+=("$(ms "$t0" "$t1")")
    echo "cli $i" >>"$W/notes/d001/n00101.md"
    git -C "$W" commit -qam "cli $i"
    t0=$(now); env "$@" GIT_SSH_COMMAND="${SSHCMD:-ssh}" git -C "$W" push -q origin main 2>/dev/null; t1=$(now)
    cli+=("$(ms "$t0" "$t1")")
  done
  local a b c
  a=$(printf '%s\n' "${ours[@]}" | median) b=$(printf '%s\n' "${pushonly[@]}" | median) c=$(printf '%s\n' "${cli[@]}" | median)
  printf '%-14s rgs-commit commit+push %8s   rgs-commit push only %8s   git push %8s   ratio %s\n' "$label" \
    "$a" "$b" "$c" "$(awk -v b="$b" -v c="$c" 'BEGIN {printf "%.2f", b / c}')"
}
bench_push local-bare "$tmp/bare.git"

if [ -x /usr/sbin/sshd ]; then
  ssh-keygen -q -t ed25519 -N '' -f hostkey; ssh-keygen -q -t ed25519 -N '' -f deploy
  cp deploy.pub authorized_keys
  port=$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  . "$top/tests/sshd.sh"
  sshd_start "$tmp" "$port" "$tmp/hostkey" "$tmp/authorized_keys"
  sshd_pid=$SSHD_PID
  KH="[127.0.0.1]:$port $(cut -d' ' -f1-2 hostkey.pub)"
  echo "$KH" >kh
  SSHCMD="ssh -i $tmp/deploy -o IdentitiesOnly=yes -o UserKnownHostsFile=$tmp/kh -o BatchMode=yes" \
    bench_push ssh-loopback "ssh://$(id -un)@127.0.0.1:$port$tmp/bare.git" SSH_PRIVATE_KEY="$(cat deploy)" SSH_KNOWN_HOSTS="$KH"
else
  echo "ssh-loopback: skipped (no /usr/sbin/sshd)"
fi
if [ "$failed" = 1 ]; then
  echo "bench-git: the target was missed (see the FAIL line above)" >&2
  exit 1
fi
