#!/usr/bin/env bash
# Races and divergence against real git: the remote moved before the push,
# and moved again between the service's fetch and its push; conflicts are
# settled for Relay inside the prefix and for the remote outside it; never
# a force push, always linear history; several remotes per folder.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/gitlib.sh"
cd "$RGS_TMP"

ancestor() { git -C "$1" merge-base --is-ancestor "$2" "$3"; }

# --- the remote gained commits touching the same note (inside the prefix)
#     and the README (outside it)
D=$RGS_TMP/d1; new_data "$D"
bare_with "$RGS_TMP/r1.git" "README.md=base readme" "notes/a.md=base note" "notes/b.md=b"
connector $FOLDER "$RGS_TMP/r1.git" 'prefix = "notes"' >"$D/git_connectors.toml"
rgs-commit -d "$D" --prepare
W=$(repo_of "$D")
git clone -q "$RGS_TMP/r1.git" other
echo "remote edit of the note" >other/notes/a.md
echo "remote readme" >other/README.md
echo "remote only" >other/notes/c.md
git -C other commit -qam "remote: edit note and readme" && git -C other add -A && git -C other commit -qm "remote: add c" && git -C other push -q origin main
remote_tip=$(git -C "$RGS_TMP/r1.git" rev-parse main)
echo "relay version of the note" >"$W/notes/a.md"
echo "service readme" >"$W/README.md"           # a path outside the prefix, to make it conflict too
echo "relay b" >"$W/notes/b.md"
{ applied notes/a.md; applied README.md; applied notes/b.md; tick 500 true; } | rgs-commit -d "$D" >out1 2>err1
t_is "push result: rebased" "$(jq -r 'select(.type=="push") | .result' out1)" rebased
t_is "note inside the prefix: Relay's version" "$(git -C "$RGS_TMP/r1.git" show main:notes/a.md)" "relay version of the note"
t_is "README outside the prefix: the remote's version" "$(git -C "$RGS_TMP/r1.git" show main:README.md)" "remote readme"
t_is "non-conflicting Relay change kept" "$(git -C "$RGS_TMP/r1.git" show main:notes/b.md)" "relay b"
t_is "remote's own new file kept" "$(git -C "$RGS_TMP/r1.git" show main:notes/c.md)" "remote only"
t_ok "no force: the remote's old tip is an ancestor" ancestor "$RGS_TMP/r1.git" "$remote_tip" main
t_is "linear history (no merges)" "$(git -C "$RGS_TMP/r1.git" rev-list --merges main | wc -l)" 0
t_is "work tree = pushed tree" "$(git -C "$W" rev-parse HEAD^{tree})" "$(git -C "$RGS_TMP/r1.git" rev-parse main^{tree})"
t_is "work tree clean" "$(git -C "$W" status --porcelain)" ""
t_ok "the settled conflicts are logged" grep -q "conflict 'notes/a.md'.*Relay" err1
t_ok "fsck" git -C "$RGS_TMP/r1.git" fsck --no-progress

# --- another clone pushes between the service's fetch and its push
D=$RGS_TMP/d2; new_data "$D"
bare_with "$RGS_TMP/r2.git" "README.md=readme" "notes/a.md=a"
connector $FOLDER "$RGS_TMP/r2.git" 'prefix = "notes"' >"$D/git_connectors.toml"
rgs-commit -d "$D" --prepare
W=$(repo_of "$D")
git clone -q "$RGS_TMP/r2.git" other2
echo first >other2/first.txt; git -C other2 add -A; git -C other2 commit -qm "other: first"; git -C other2 push -q origin main
mkdir wrap
cat >wrap/git <<EOS
#!/usr/bin/env bash
# after the service's fetch, another clone pushes once more
real=\$(PATH=${PATH#*:} command -v git)
if [ "\$1" = fetch ] && [ ! -e "$RGS_TMP/raced" ]; then
  "\$real" "\$@"; rc=\$?
  touch "$RGS_TMP/raced"
  ( unset \$(env | sed -n 's/^\(GIT_[A-Z_0-9]*\)=.*/\1/p')
    cd "$RGS_TMP/other2" && echo second >second.txt && "\$real" add -A && "\$real" -c user.name=O -c user.email=o@x commit -qm "other: second (during the sync)" && "\$real" push -q origin main ) >"$RGS_TMP/race.log" 2>&1
  exit \$rc
fi
exec "\$real" "\$@"
EOS
chmod +x wrap/git
echo "relay a" >"$W/notes/a.md"
{ applied notes/a.md; tick 500 true; } | PATH="$RGS_TMP/wrap:$PATH" rgs-commit -d "$D" >out2 2>err2
t_ok "the race happened" test -e "$RGS_TMP/raced"
t_is "push rebased after the race" "$(jq -r 'select(.type=="push") | .result' out2)" rebased
t_is "took three attempts" "$(jq -r 'select(.type=="push") | .attempt' out2)" 3
t_ok "both other commits kept" bash -c "git -C '$RGS_TMP/r2.git' log --format=%s main | grep -q 'other: first' && git -C '$RGS_TMP/r2.git' log --format=%s main | grep -q 'other: second'"
t_is "Relay's change arrived" "$(git -C "$RGS_TMP/r2.git" show main:notes/a.md)" "relay a"
t_is "linear" "$(git -C "$RGS_TMP/r2.git" rev-list --merges main | wc -l)" 0
t_is "the service's commit is on top" "$(git -C "$RGS_TMP/r2.git" log -1 --format=%cn main)" "Relay Git Sync"

# --- several remotes for one folder: both get every commit; one failing does not block the other
D=$RGS_TMP/d3; new_data "$D"
bare_with "$RGS_TMP/gh.git"; bare_with "$RGS_TMP/gl.git"
{ connector $FOLDER "$RGS_TMP/gh.git" 'prefix = "vault"'
  connector $FOLDER "$RGS_TMP/gl.git" 'prefix = "vault"' 'remote_name = "gitlab"'
  connector $FOLDER2 "$RGS_TMP/nowhere.git"; } >"$D/git_connectors.toml"
rgs-commit -d "$D" --prepare 2>/dev/null
W=$(repo_of "$D")
t_is "one repository, two remotes" "$(git -C "$W" remote | sort | tr '\n' ' ')" "gitlab origin "
mkdir -p "$W/vault"; echo one >"$W/vault/n.md"
{ applied vault/n.md; tick 500 true; } | rgs-commit -d "$D" >out3 2>/dev/null
t_is "pushed to both" "$(jq -r 'select(.type=="push") | "\(.remote)=\(.result)"' out3 | sort | tr '\n' ' ')" "gitlab=ok origin=ok "
t_is "same tip on both" "$(git -C "$RGS_TMP/gh.git" rev-parse main)" "$(git -C "$RGS_TMP/gl.git" rev-parse main)"
mv "$RGS_TMP/gl.git" "$RGS_TMP/gl.away"
echo two >"$W/vault/n.md"
{ applied vault/n.md; tick 600 true; } | rgs-commit -d "$D" >out4 2>/dev/null
t_is "one remote down: the other still pushed" "$(jq -r 'select(.type=="push") | "\(.remote)=\(.result)"' out4 | sort | tr '\n' ' ')" "gitlab=error origin=ok "
mv "$RGS_TMP/gl.away" "$RGS_TMP/gl.git"
sed -i "s|$RGS_TMP/gl.git|$RGS_TMP/gl2.git|" "$D/git_connectors.toml"; mv "$RGS_TMP/gl.git" "$RGS_TMP/gl2.git"
tick 700 true | rgs-commit -d "$D" >out5 2>/dev/null
t_is "URL change followed" "$(git -C "$W" remote get-url gitlab)" "$RGS_TMP/gl2.git"
t_is "back: caught up" "$(git -C "$RGS_TMP/gl2.git" rev-parse main)" "$(git -C "$RGS_TMP/gh.git" rev-parse main)"
t_ok "no credentials in .git/config" bash -c "! grep -q '@' '$W/.git/config'"
done_testing
