#!/usr/bin/env bash
# Two remotes of one folder (GitHub and GitLab, say) whose histories moved
# apart, against real git (rgs-commit(1), "Several remotes"):
#  - only one remote moved: the service's unpublished commits are rebased on
#    it; the other remote then fast-forwards; history stays linear;
#  - both moved: the commits the service already pushed to the first remote
#    cannot be rebased on the second without a force push, so the second
#    remote's branch is merged (one merge commit, conflicts settled for Relay
#    inside the prefix and for the remote outside it), and at the next tick
#    the first remote fast-forwards to the merge: both end on the same tip,
#    no remote commit is lost, nothing was force-pushed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/gitlib.sh"
cd "$RGS_TMP"
ancestor() { git -C "$1" merge-base --is-ancestor "$2" "$3"; }
pushes() { jq -r 'select(.type=="push") | "\(.remote)=\(.result)"' "$1" | sort | tr '\n' ' '; }

D=$RGS_TMP/d; new_data "$D"
bare_with "$RGS_TMP/gh.git" "README.md=base readme" "notes/a.md=base note"
git clone -q --bare "$RGS_TMP/gh.git" "$RGS_TMP/gl.git"
{ connector $FOLDER "$RGS_TMP/gh.git" 'prefix = "notes"'
  connector $FOLDER "$RGS_TMP/gl.git" 'prefix = "notes"' 'remote_name = "gitlab"'; } >"$D/git_connectors.toml"
rgs-commit -d "$D" --prepare
W=$(repo_of "$D")
git clone -q "$RGS_TMP/gh.git" gh-user; git clone -q "$RGS_TMP/gl.git" gl-user

# --- only the first remote moved: rebase, linear, the second fast-forwards
echo "readme from github" >gh-user/README.md
git -C gh-user commit -qam "github: readme" && git -C gh-user push -q origin main
gh_before=$(git -C "$RGS_TMP/gh.git" rev-parse main)
echo "relay 1" >"$W/notes/a.md"
{ applied notes/a.md; tick 500 true; } | rgs-commit -d "$D" >out1 2>err1
t_is "one moved: rebased there, plain push to the other" "$(pushes out1)" "gitlab=ok origin=rebased "
t_is "one moved: same tip on both" "$(git -C "$RGS_TMP/gl.git" rev-parse main)" "$(git -C "$RGS_TMP/gh.git" rev-parse main)"
t_is "one moved: linear (no merge commit)" "$(git -C "$RGS_TMP/gl.git" rev-list --merges main | wc -l)" 0
t_ok "one moved: github's commit kept (no force push)" ancestor "$RGS_TMP/gh.git" "$gh_before" main
t_is "one moved: github's readme reached gitlab" "$(git -C "$RGS_TMP/gl.git" show main:README.md)" "readme from github"

# --- both moved: github got a readme edit, gitlab an edit of the same note and a new file
git -C gh-user pull -q --ff-only; git -C gl-user pull -q --ff-only
echo "readme again from github" >gh-user/README.md
git -C gh-user commit -qam "github: readme again" && git -C gh-user push -q origin main
echo "gitlab edit of the note" >gl-user/notes/a.md; echo "gitlab only" >gl-user/gitlab.txt
git -C gl-user add -A && git -C gl-user commit -qm "gitlab: note and file" && git -C gl-user push -q origin main
gh_before=$(git -C "$RGS_TMP/gh.git" rev-parse main) gl_before=$(git -C "$RGS_TMP/gl.git" rev-parse main)
echo "relay 2" >"$W/notes/a.md"
{ applied notes/a.md; tick 600 true; } | rgs-commit -d "$D" >out2 2>err2
t_is "both moved: rebased on the first, merged into the second" "$(pushes out2)" "gitlab=rebased origin=rebased "
tick 700 true | rgs-commit -d "$D" >out3 2>err3
t_is "next tick: the first remote takes the merge" "$(pushes out3)" "origin=ok "
GH=$(git -C "$RGS_TMP/gh.git" rev-parse main) GL=$(git -C "$RGS_TMP/gl.git" rev-parse main)
t_is "both moved: same tip on both remotes" "$GH" "$GL"
t_ok "no force push: github's commits kept" ancestor "$RGS_TMP/gh.git" "$gh_before" main
t_ok "no force push: gitlab's commits kept" ancestor "$RGS_TMP/gl.git" "$gl_before" main
t_is "exactly one merge commit" "$(git -C "$RGS_TMP/gh.git" rev-list --merges main | wc -l)" 1
t_is "its parents: the service's rebased commit and gitlab's" \
  "$(git -C "$RGS_TMP/gh.git" log -1 --merges --format=%P main | cut -d' ' -f2)" "$gl_before"
t_ok "the merge message names the merged remote branch" bash -c "git -C '$RGS_TMP/gh.git' log -1 --merges --format=%s main | grep -q 'Merge refs/remotes/gitlab/main into main (commits already pushed to other remotes)'"
t_is "note inside the prefix: Relay's version" "$(git -C "$RGS_TMP/gl.git" show main:notes/a.md)" "relay 2"
t_is "outside the prefix: github's readme" "$(git -C "$RGS_TMP/gl.git" show main:README.md)" "readme again from github"
t_is "gitlab's new file kept" "$(git -C "$RGS_TMP/gh.git" show main:gitlab.txt)" "gitlab only"
t_is "work tree on the same tip" "$(git -C "$W" rev-parse HEAD)" "$GH"
t_ok "git fsck clean" git -C "$W" fsck --no-progress
done_testing
