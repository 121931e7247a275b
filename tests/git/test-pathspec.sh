#!/usr/bin/env bash
# File names from Relay are literal paths for git, never pathspecs: a note
# named ":(glob)**" at the repository root, deleted in Relay while the remote
# edited it, must not make conflict resolution delete every file.
# (Found by review: `git rm -- ':(glob)**'` matched the whole tree.)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/gitlib.sh"
cd "$RGS_TMP"

for name in ':(glob)**' ':(exclude)x' ':!README.md' '*' '[a-z]*'; do
  D=$RGS_TMP/d.$RANDOM; new_data "$D"
  bare="$RGS_TMP/r.$RANDOM.git"
  bare_with "$bare" "README.md=readme" "docs/keep.txt=keep" "notes/a.md=a" "$name=hostile"
  connector $FOLDER "$bare" >"$D/git_connectors.toml"
  rgs-commit -d "$D" --prepare >/dev/null 2>&1
  W=$(repo_of "$D")
  git clone -q "$bare" other.$$ && printf 'remote edit' >"other.$$/$name" &&
    git -C other.$$ add -A && git -C other.$$ commit -qm "remote edits $name" && git -C other.$$ push -q origin main
  rm -rf other.$$
  rm -f -- "$W/$name"          # Relay deleted it: rgs-apply removed the file
  { applied "$name" delete; tick 500 true; } | rgs-commit -d "$D" >out 2>err
  files=$(git -C "$bare" ls-tree -r --name-only main | sort | tr '\n' ' ')
  case $files in
    *README.md*docs/keep.txt*notes/a.md*) ok "'$name': conflict settled without touching other files ($(jq -r 'select(.type=="push") | .result' out))" ;;
    *) notok "'$name': other files survive"; diag "remote has: $files"; sed 's/^/# /' err | tail -5 ;;
  esac
  t_is "'$name': history linear" "$(git -C "$bare" rev-list --merges main | wc -l)" 0
done
done_testing
