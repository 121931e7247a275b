# Helpers for the work-tree area's tests (rgs-queue, rgs-plan, rgs-apply).
# Source after tests/lib.sh.  Records are built with jq, hashes with
# sha256sum and `git hash-object` (independent of the code under test).
R=0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b
F=11111111-2222-3333-4444-555555555555
F2=22222222-2222-3333-4444-555555555555
uid() { printf 'aaaaaaaa-0000-4000-8000-%012d' "$1"; }

# wt_init DIR [PREFIX] [OWNS]: a data directory with one connector for R/F
# (and R/F2 without prefix) and both repositories created by `git init`.
wt_init() {
  DD=$1
  local prefix=${2:-} owns=${3:-false}
  mkdir -p "$DD"
  cat >"$DD/git_connectors.toml" <<EOF
[[git_connector]]
shared_folder_id = "$F"
relay_id = "$R"
url = "https://git.example.invalid/a.git"
prefix = "$prefix"
owns_prefix = $owns

[[git_connector]]
shared_folder_id = "$F2"
relay_id = "$R"
url = "https://git.example.invalid/b.git"
EOF
  REPO=$DD/repos/$R/$F
  git init -q "$REPO"
  git init -q "$DD/repos/$R/$F2"
}

# Entry JSON fragments for a folder snapshot.
e_md()     { jq -cn --arg p "$1" --arg id "$2" '{($p):{version:0,id:$id,type:"markdown"}}'; }
e_canvas() { jq -cn --arg p "$1" --arg id "$2" '{($p):{version:0,id:$id,type:"canvas"}}'; }
e_dir()    { jq -cn --arg p "$1" --arg id "$2" '{($p):{version:0,id:$id,type:"folder"}}'; }
e_file()   { jq -cn --arg p "$1" --arg id "$2" --arg h "$3" \
               '{($p):{version:0,id:$id,type:"image",mimetype:"image/png",synctime:1700000000000,hash:$h}}'; }
# entries FRAGMENT...: merge fragments into one object
entries() { if [ $# = 0 ]; then echo '{}'; else printf '%s\n' "$@" | jq -cs 'add'; fi; }

# folder_rec FULL ENTRIES [REF] [FOLDER]
folder_rec() {
  jq -cn --argjson full "$1" --argjson e "$2" --arg ref "${3:-rc:$R:${4:-$F}}" --arg r "$R" \
     --arg f "${4:-$F}" \
     '{v:1,type:"folder",ref:$ref,relay:$r,folder:$f,never_written:false,full:$full,entries:$e}'
}
folder_never() {
  jq -cn --arg r "$R" --arg f "$F" \
     '{v:1,type:"folder",ref:("rc:"+$r+":"+$f),relay:$r,folder:$f,never_written:true,full:true,entries:{}}'
}
# doc_rec ID CONTENT [REF] [KIND]
doc_rec() {
  local sha; sha=$(printf '%s' "$2" | sha256sum | cut -c1-64)
  jq -cn --arg id "$1" --arg c "$2" --arg s "$sha" --arg ref "${3:-rc:$R:$F}" --arg r "$R" \
     --arg f "$F" --arg k "${4:-markdown}" \
     '{v:1,type:"doc",ref:$ref,relay:$r,folder:$f,doc:$id,kind:$k,never_written:false,content:$c,sha256:$s}'
}
doc_never() {
  jq -cn --arg id "$1" --arg r "$R" --arg f "$F" --arg ref "${2:-ev:$R:$1}" \
     '{v:1,type:"doc",ref:$ref,relay:$r,folder:$f,doc:$id,kind:"markdown",never_written:true}'
}
event_rec() { # RESOURCE [USERS_JSON]
  jq -cn --arg r "$R" --arg x "$1" --argjson u "${2:-[]}" \
     '{v:1,type:"event",ref:("ev:"+$r+":"+$x),relay:$r,resource:$x,timestamp:null,users:$u,event_ids:[],count:1,spool:[]}'
}
# list_sha FOLDER: "<hex>" (quoted) of shared_folders.json[FOLDER] of relay R
# in $DD, as jq -cS prints it, or null when none is stored
list_sha() {
  local sf=$DD/state/$R/shared_folders.json
  if [ -f "$sf" ] && jq -e --arg f "$1" 'has($f)' "$sf" >/dev/null; then
    echo "\"$(jq -cS --arg f "$1" '.[$f]' "$sf" | tr -d '\n' | sha256sum | cut -c1-64)\""
  else echo null; fi
}
sha() { printf '%s' "$1" | sha256sum | cut -c1-64; }
sha_file() { sha256sum <"$1" | cut -c1-64; }

# sync: plan | apply over the records on stdin; records of apply on stdout
sync() { rgs-plan -d "$DD" | rgs-apply -d "$DD" --lock-wait 5; }

# tree DIR: every path below DIR (not .git) with type and content hash
tree() {
  (cd "$1" && {
     find . -path ./.git -prune -o -type d -printf 'D %p\n' -o -type l -printf 'L %p -> %l\n' \
       -o ! -type f -printf 'O %p\n'
     find . -path ./.git -prune -o -type f -print0 | xargs -0r sha256sum |
       awk '{ h = substr($1, 1, 16); sub(/^[^ ]*  /, ""); print "F ./" substr($0, 3) " " h }'
   } | LC_ALL=C sort)
}
# state_json DD NAME: state file NAME (document_hashes, shared_folders,
# local_state) of relay R as rgs-apply's pending changes make it: the file
# with every state/R/pending/<doc>.json applied (document_hashes[doc] =
# hash; local_state[folder][vpath] = entry), by jq from the documented
# format; nothing printed when there is neither file nor pending change.
state_json() {
  local s=$1/state/$R pend=false
  compgen -G "$s/pending/*.json" >/dev/null && pend=true
  { [ -f "$s/$2.json" ] || $pend; } || return 0
  { if [ -f "$s/$2.json" ]; then cat "$s/$2.json"; else echo '{}'; fi; } |
    jq --arg f "$2" --slurpfile p <(if $pend; then find "$s/pending" -name '*.json' -exec cat {} +; fi) '
      if $f == "document_hashes" then reduce ($p[] | select(has("hash"))) as $x (.; .[$x.doc] = $x.hash)
      elif $f == "local_state" then reduce ($p[] | .local[]) as $a (.; .[$a.folder][$a.vpath] = $a.entry)
      else . end'
}
# state DD: the three state files (pending changes applied), "modified"
# times removed
state() {
  for f in document_hashes shared_folders local_state; do
    echo "== $f"; state_json "$1" $f | jq -S 'walk(if type == "object" then del(.modified) else . end)'
  done
}
# expand FILE: replace @SHA:text@ by the sha256 of printf 'text' and
# @BLOB:text@ by its git blob id (independent truths for fixtures)
expand() {
  perl -pe 's/\@R\@/'"$R"'/g; s/\@F\@/'"$F"'/g; s/\@F2\@/'"$F2"'/g;
            s/\@D(\d+)\@/sprintf("aaaaaaaa-0000-4000-8000-%012d",$1)/ge;
            s/\@SHA:(.*?)\@/my $t=$1; my $h=`printf "$t" | sha256sum`; substr($h,0,64)/ge;
            s/\@BLOB:(.*?)\@/my $t=$1; my $h=`printf "$t" | git hash-object --stdin`; substr($h,0,40)/ge' "$1"
}
# norm: records without the fields that carry the clock
norm() { jq -c 'del(.time)'; }
