#!/usr/bin/env bash
# The tree that rgs-commit builds from the parent commit's tree and the
# journal's paths, against an independent truth: `git add -A` and
# `git write-tree` of the same work tree in a separate index.  Edits, new
# files in new nested directories, deletions, a directory removed as a
# whole, moves, the executable bit on and off (and core.filemode false),
# file <-> directory, symbolic links (never followed, also not as a
# directory on the way to a path), names with spaces and non-ASCII, paths
# inside and outside the connector prefix, a root commit and an empty
# tree.  Then: the index agrees with every commit, a change that changes
# nothing makes no commit, one changed file leaves the shared index alone,
# and libgit2 does not parse the CA bundle.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/gitlib.sh"
cd "$RGS_TMP"

# truth WORKTREE BASE: the tree of `git add -A` over BASE (a tree-ish, or
# "" for none), in an index of its own
truth() {
  local w=$1 base=$2 idx=$RGS_TMP/truth.idx
  rm -f "$idx"
  if [ -n "$base" ]; then GIT_INDEX_FILE=$idx git -C "$w" read-tree "$base"; else GIT_INDEX_FILE=$idx git -C "$w" read-tree --empty; fi &&
    GIT_INDEX_FILE=$idx git -C "$w" add -A && GIT_INDEX_FILE=$idx git -C "$w" write-tree
}
# commit_paths DATA PATH...: journal the paths (one applied record each) and commit at a final tick
commit_paths() {
  local d=$1 p; shift
  { for p in "$@"; do applied "$p" write 100; done; tick 200 true; } | rgs-commit -d "$d" >"$RGS_TMP/out" 2>"$RGS_TMP/err"
}
index_agrees() { git -C "$1" diff-index --cached --quiet HEAD --; }
changed_files() { git -C "$1" diff-tree -r --no-renames --no-commit-id "$2" "$3" | wc -l; }

# --- a remote with files of every kind
D=$RGS_TMP/d1; new_data "$D"
git init -q --bare -b main r1.git
git init -q -b main seed
( cd seed && mkdir -p notes/dir/sub notes/d2f notes/linkdir &&
  for f in README.md notes/edit.md notes/gone.md notes/same.md notes/moved.md notes/dir/a.md notes/dir/b.md \
           notes/dir/sub/c.md notes/d2f/x.md notes/f2d notes/linkdir/secret.md notes/run.sh notes/tool.sh; do
    echo "seed $f" >"$f"; done &&
  chmod +x notes/tool.sh && ln -s edit.md notes/oldlink &&
  git add -A && git commit -qm seed && git push -q ../r1.git main )
connector $FOLDER "$RGS_TMP/r1.git" 'prefix = "notes"' >"$D/git_connectors.toml"
rgs-commit -d "$D" --prepare
W=$(repo_of "$D")
t_is "seed: tool.sh is executable in the tree" "$(git -C "$W" ls-tree HEAD notes/tool.sh | cut -c1-6)" 100755

# --- every kind of change at once
mkdir -p outside && echo "not in the repository" >outside/secret.md && echo other >outside/other.md
(
  cd "$W" || exit 1
  echo "edited" >>notes/edit.md
  echo "outside the prefix" >>README.md
  rm notes/gone.md
  rm -r notes/dir                                   # named only as a directory (an rmdir record)
  mkdir -p notes/new/deeper/still && mv notes/moved.md notes/new/deeper/moved.md
  echo "deepest" >notes/new/deeper/still/deepest.md
  echo "odd" >"notes/odd name ü.md"
  chmod +x notes/run.sh; chmod -x notes/tool.sh      # mode only: no content change
  rm notes/f2d && mkdir notes/f2d && echo inner >notes/f2d/inner.md
  rm -r notes/d2f && echo "now a file" >notes/d2f
  rm -r notes/linkdir && ln -s "$RGS_TMP/outside" notes/linkdir
  ln -sfn gone.md notes/oldlink                      # retargeted, now dangling
  ln -s /etc/passwd notes/passwd
  mkfifo notes/fifo
)
before=$(git -C "$W" rev-parse HEAD)
commit_paths "$D" notes/edit.md README.md notes/gone.md notes/dir notes/moved.md notes/new/deeper/moved.md \
  notes/new/deeper/still/deepest.md "notes/odd name ü.md" notes/run.sh notes/tool.sh notes/f2d notes/f2d/inner.md \
  notes/d2f notes/d2f/x.md notes/linkdir notes/linkdir/secret.md notes/linkdir/other.md notes/oldlink \
  notes/passwd notes/fifo notes/same.md
rc=$?
t_is "exit 0" "$rc" 0
t_is "one commit" "$(count_type "$RGS_TMP/out" commit)" 1
rm "$W/notes/fifo"          # git add cannot take a fifo; rgs-commit left it out
want=$(truth "$W" "$before")
t_is "tree = git add -A of the same change" "$(git -C "$W" rev-parse HEAD^{tree})" "$want"
if [ "$(git -C "$W" rev-parse HEAD^{tree})" != "$want" ]; then
  diag "rgs-commit: $(git -C "$W" diff-tree -r --no-commit-id "$before" HEAD | tr '\n' ';')"
  diag "git add:    $(git -C "$W" diff-tree -r "$before" "$want" | tr '\n' ';')"
fi
t_is "modes: executable bit set, cleared" "$(git -C "$W" ls-tree HEAD notes/run.sh notes/tool.sh | cut -c1-6 | tr '\n' ' ')" "100755 100644 "
t_is "a symbolic link is committed as a link, not followed" "$(git -C "$W" ls-tree HEAD notes/passwd | cut -c1-6):$(git -C "$W" cat-file -p HEAD:notes/passwd)" "120000:/etc/passwd"
t_is "a directory replaced by a link: link committed" "$(git -C "$W" ls-tree HEAD notes/linkdir | cut -c1-6)" 120000
t_fails "nothing committed through a link" git -C "$W" cat-file -e HEAD:notes/linkdir/secret.md
t_is "a directory named only as a whole is removed with its files" "$(git -C "$W" ls-tree -r --name-only HEAD notes/dir | wc -l)" 0
t_is "file -> directory" "$(git -C "$W" ls-tree -r --name-only HEAD notes/f2d)" "notes/f2d/inner.md"
t_is "directory -> file" "$(git -C "$W" ls-tree HEAD notes/d2f | cut -c1-11)" "100644 blob"
t_is "commit record: files = entries that changed" "$(jq -r 'select(.type=="commit") | .files' "$RGS_TMP/out")" "$(changed_files "$W" "$before" HEAD)"
t_ok "index agrees with the commit" index_agrees "$W"
t_is "git status: clean" "$(git -C "$W" status --porcelain)" ""
t_ok "journal consumed" bash -c "! ls '$D/commit/$RELAY/' | grep -q journal"

# --- a change that changes nothing: no commit (content rewritten as it was,
#     a file made and removed again, an absent directory, a mode set as it is)
echo "seed notes/same.md" >"$W/notes/same.md"; chmod +x "$W/notes/run.sh"
head=$(git -C "$W" rev-parse HEAD)
commit_paths "$D" notes/same.md notes/tmp.md notes/nodir notes/run.sh
t_is "no commit" "$(count_type "$RGS_TMP/out" commit)" 0
t_is "HEAD unchanged" "$(git -C "$W" rev-parse HEAD)" "$head"
t_ok "index still agrees" index_agrees "$W"

# --- one changed file: the shared index (every entry) is not rewritten
shared() { (cd "$W/.git" && ls sharedindex.* 2>/dev/null); }
t_ok "the index is split (changed entries in .git/index)" test -n "$(shared)"
s0=$(shared)
echo "small change" >>"$W/notes/edit.md"
commit_paths "$D" notes/edit.md
t_is "committed" "$(count_type "$RGS_TMP/out" commit)" 1
t_is "shared index untouched" "$(shared)" "$s0"
t_is "and the commit changed one file" "$(changed_files "$W" HEAD~1 HEAD)" 1
t_ok "index agrees" index_agrees "$W"

# --- core.filemode false: the mode in the tree is kept, as git does
git -C "$W" config core.filemode false
before=$(git -C "$W" rev-parse HEAD)
echo "x" >>"$W/notes/edit.md"; chmod +x "$W/notes/edit.md"; chmod -x "$W/notes/run.sh"; echo "y" >>"$W/notes/run.sh"
commit_paths "$D" notes/edit.md notes/run.sh
t_is "filemode false: tree = git add -A" "$(git -C "$W" rev-parse HEAD^{tree})" "$(truth "$W" "$before")"
t_is "filemode false: modes kept" "$(git -C "$W" ls-tree HEAD notes/edit.md notes/run.sh | cut -c1-6 | tr '\n' ' ')" "100644 100755 "
git -C "$W" config core.filemode true; chmod +x "$W/notes/run.sh"; chmod -x "$W/notes/edit.md"

# --- the git CLI works on that index: a rebase over a remote change
git clone -q r1.git other
echo "remote change" >other/notes/remote.md; git -C other add -A; git -C other commit -qm remote; git -C other push -q origin main
echo "relay change" >>"$W/notes/edit.md"
commit_paths "$D" notes/edit.md
t_is "rebased and pushed" "$(jq -r 'select(.type=="push") | .result' "$RGS_TMP/out")" rebased
t_is "remote has both" "$(git -C r1.git show main:notes/remote.md):$(git -C r1.git show main:notes/edit.md | tail -1)" "remote change:relay change"
t_ok "index agrees after the rebase" index_agrees "$W"
t_is "git status clean after the rebase" "$(git -C "$W" status --porcelain)" ""

# --- unborn HEAD: a root commit from the journal alone, then an empty tree
D=$RGS_TMP/d2; new_data "$D"
git init -q --bare -b main r2.git
connector $FOLDER "$RGS_TMP/r2.git" >"$D/git_connectors.toml"
rgs-commit -d "$D" --prepare
W=$(repo_of "$D")
mkdir -p "$W/a/b/c" && echo one >"$W/a/b/c/one.md" && echo two >"$W/two.md" && chmod +x "$W/two.md" && ln -s a/b "$W/ln"
commit_paths "$D" a/b/c/one.md two.md ln
t_is "root commit" "$(git -C "$W" rev-list --count HEAD):$(git -C "$W" rev-list --max-parents=0 HEAD)" "1:$(git -C "$W" rev-parse HEAD)"
t_is "root tree = git add -A" "$(git -C "$W" rev-parse HEAD^{tree})" "$(truth "$W" "")"
t_ok "index agrees (root)" index_agrees "$W"
rm -r "$W/a" "$W/two.md" "$W/ln"
commit_paths "$D" a/b/c/one.md two.md ln
t_is "everything deleted: the empty tree" "$(git -C "$W" rev-parse HEAD^{tree})" "$(git hash-object -t tree /dev/null)"
t_is "pushed" "$(git -C r2.git rev-parse main)" "$(git -C "$W" rev-parse HEAD)"
t_ok "index agrees (empty)" index_agrees "$W"
t_ok "fsck" git -C "$W" fsck --no-progress --strict

# --- names Git refuses as ".git" (NTFS short name, HFS+ ignorable) are never committed
zw=$(printf '.gi\342\200\214t')
mkdir -p "$W/GIT~1" "$W/$zw/hooks" && echo x >"$W/GIT~1/config" && echo x >"$W/$zw/hooks/post-checkout" && echo fine >"$W/fine.md"
commit_paths "$D" "GIT~1/config" "$zw/hooks/post-checkout" fine.md
t_is "GIT~1/config and .gi<ZWNJ>t/hooks not committed, fine.md is" "$(git -C "$W" ls-tree -r --name-only HEAD)" fine.md
t_ok "the refusal is reported" grep -q "GIT~1/config" "$RGS_TMP/err"

# --- libgit2 start-up leaves the CA bundle alone (network goes through the git CLI)
t_ok "CA bundle not parsed (debug message)" grep -q "CA bundle is not parsed" <(tick 1 | rgs-commit -v -d "$D" 2>&1 >/dev/null)
if command -v strace >/dev/null && strace -f -o /dev/null true 2>/dev/null; then
  tick 1 | strace -f -e trace=open,openat -o trace rgs-commit -d "$D" >/dev/null 2>&1
  t_ok "strace: the trace was written" grep -q openat trace
  t_fails "strace: no certificate file opened" grep -q 'ca-certificates' trace
else
  skip "strace not usable here"
  skip "strace not usable here"
fi
done_testing
