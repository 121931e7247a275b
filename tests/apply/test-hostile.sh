#!/usr/bin/env bash
# Hostile folder documents and planted symlinks: every refused path, writes
# through symlinks (parent directories, the file itself, the prefix), ops
# crafted to bypass rgs-plan.  Nothing may be written outside the work tree
# or into .git.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../plan/wt-lib.sh"

DD=$RGS_TMP/h; wt_init "$DD"
OUT=$RGS_TMP/outside; mkdir -p "$OUT/dir"; echo secret >"$OUT/target"; echo keep >"$OUT/dir/file.md"
ln -s "$OUT/dir" "$REPO/evil"            # a directory symlink in a parent component
ln -s "$OUT/target" "$REPO/link.md"      # a file symlink at a target
ln -s "$OUT/dir" "$REPO/Notes"           # a symlink where a folder entry must go
gitcfg=$(sha_file "$REPO/.git/config")
outside_before=$(tree "$OUT")
hooks_before=$(ls -A "$REPO/.git/hooks")

long=$(printf 'y%.0s' $(seq 1 300))
paths=(/a/../../outside/x.md /.. /../outside/y.md /.git/config /.GIT/hooks/pre-commit /.Git/config
       /sub/.git/config /.git./config "/.git /config" /GIT~1/config "/.g$(printf '\u200c')it/config"
       //etc/passwd "/ctl$(printf '\001').md" "/esc$(printf '\033')[2J.md" "/c1$(printf '\302\205').md"
       "/$long.md" /evil/pwn.md /evil/sub/deep.md /link.md /Notes/x.md /ok.md)
frags=(); recs=()
i=0
for p in "${paths[@]}"; do
  i=$((i+1)); frags+=("$(e_md "$p" "$(uid $i)")"); recs+=("$(doc_rec "$(uid $i)" "PWNED $i")")
done
frags+=("$(e_dir /Notes "$(uid 90)")")
frags+=("$(jq -cn --arg id "../../etc" '{"/bad-id.md":{version:0,id:$id,type:"markdown"}}')")
frags+=("$(e_md /x.md "$(uid 91)")" "$(e_md /x.md/inner.md "$(uid 92)")")
{ folder_rec true "$(entries "${frags[@]}")"; printf '%s\n' "${recs[@]}"; doc_rec "$(uid 91)" X; } >"$RGS_TMP/h.in"
st=0; sync <"$RGS_TMP/h.in" >"$RGS_TMP/h.out" 2>"$RGS_TMP/h.err" || st=$?
t_is "pipeline exit 0 (refusals are reported, not failures)" "$st" 0
t_is "outside untouched" "$(tree "$OUT")" "$outside_before"
t_is ".git/config untouched" "$(sha_file "$REPO/.git/config")" "$gitcfg"
t_is ".git/hooks untouched" "$(ls -A "$REPO/.git/hooks")" "$hooks_before"
t_is "no PWNED byte outside the two accepted files" \
  "$(grep -rl PWNED "$DD" "$OUT" 2>/dev/null | grep -v -e '/state/' | sed "s|$REPO/||" | sort | tr '\n' ' ')" "ok.md "
t_is "the accepted note is written" "$(cat "$REPO/ok.md")" "PWNED ${#paths[@]}"
t_is "symlinks left as they were" \
  "$(readlink "$REPO/evil") $(readlink "$REPO/link.md") $(readlink "$REPO/Notes")" "$OUT/dir $OUT/target $OUT/dir"
nref=$(jq -s 'map(select(.type == "refused")) | length' "$RGS_TMP/h.out")
t_is "every hostile entry refused (${#paths[@]} - 1 paths, bad id, folder, x.md/inner.md)" "$nref" "$(( ${#paths[@]} - 1 + 3 ))"
reasons=$(jq -r 'select(.type == "refused") | .reason' "$RGS_TMP/h.out" | sort -u | tr '\n' '|')
for r in "'..' component" "'.git' component" "absolute path" "control character" \
         "component longer than 255 bytes" "a symlink is in the way" "id is not a UUID" \
         "a file where a directory must go ('/x.md')"; do
  case "|$reasons" in *"|$r|"*) ok "reason: $r" ;; *) notok "reason: $r"; diag "$reasons" ;; esac
done
t_ok "log lines carry no raw control characters" sh -c "! grep -q \"\$(printf '\\033')\" '$RGS_TMP/h.err'"
t_is "state: refused paths not recorded" \
  "$(jq -r --arg f "$F" '.[$f] | keys[]' "$DD/state/$R/local_state.json" | tr '\n' ' ')" "/ok.md /x.md "

# --- ops crafted by hand, bypassing rgs-plan ------------------------------------
op() { # OP PATH [FROM]
  jq -cn --arg r "$R" --arg f "$F" --arg op "$1" --arg p "$2" --arg from "${3:-}" --arg d "$(uid 1)" \
     --arg s "$(sha PWNED)" '{v:1,type:"op",ref:"x",op:$op,relay:$r,folder:$f,path:$p,vpath:("/"+$p),
       doc:$d,kind:"markdown",content:"PWNED",sha256:$s,pre:{sha256:null}}
       + (if $from != "" then {from:$from, from_vpath:("/"+$from), pre:{sha256:null, from_sha256:"0"}} else {} end)'
}
printf 'mine' >"$REPO/mine.md"
{ op write ../outside/z.md; op write .git/config; op write a/.GIT/hooks/x; op write /abs.md
  op write evil/direct.md; op write link.md; op write Notes/in.md; op mkdir evil/newdir
  op move evil/moved.md mine.md; op move mine2.md evil/file.md; op delete evil/file.md
  op write "x/./y.md"; op write "ok/../../z.md"; op write ".git"; } >"$RGS_TMP/ops.in"
st=0; rgs-apply -d "$DD" <"$RGS_TMP/ops.in" >"$RGS_TMP/ops.out" 2>/dev/null || st=$?
t_is "crafted ops: exit 1" "$st" 1
t_is "crafted ops: none applied" "$(jq -s 'map(select(.type == "applied")) | length' "$RGS_TMP/ops.out")" 0
t_is "crafted ops: each refused or failed" \
  "$(jq -s 'map(select(.type == "refused" or .type == "failed")) | length' "$RGS_TMP/ops.out")" 14
t_is "crafted ops: outside untouched" "$(tree "$OUT")" "$outside_before"
t_is "crafted ops: .git/config untouched" "$(sha_file "$REPO/.git/config")" "$gitcfg"
t_is "crafted ops: mine.md still there" "$(cat "$REPO/mine.md")" "mine"
t_is "crafted ops: symlink target intact" "$(cat "$OUT/target")" "secret"

# --- a prefix that is a symlink ------------------------------------------------------
DD3=$RGS_TMP/p; wt_init "$DD3" notes
ln -s "$OUT/dir" "$DD3/repos/$R/$F/notes"
{ folder_rec true "$(entries "$(e_md /a.md "$(uid 1)")")"; doc_rec "$(uid 1)" PWNED; } |
  rgs-plan -d "$DD3" | rgs-apply -d "$DD3" >"$RGS_TMP/p.out" 2>/dev/null
t_is "symlinked prefix: refused" "$(jq -r 'select(.type == "refused") | .reason' "$RGS_TMP/p.out")" "a symlink is in the way"
t_is "symlinked prefix: outside untouched" "$(tree "$OUT")" "$outside_before"

# --- the repository itself is a symlink --------------------------------------------
DD4=$RGS_TMP/r; wt_init "$DD4"
mv "$DD4/repos/$R/$F" "$RGS_TMP/realrepo"; ln -s "$RGS_TMP/realrepo" "$DD4/repos/$R/$F"
{ folder_rec true "$(entries "$(e_md /a.md "$(uid 1)")")"; doc_rec "$(uid 1)" PWNED; } |
  rgs-plan -d "$DD4" 2>/dev/null | rgs-apply -d "$DD4" >"$RGS_TMP/r.out" 2>/dev/null
t_is "symlinked repository: nothing written" "$(ls "$RGS_TMP/realrepo")" ""
t_is "symlinked repository: failed" "$(jq -r 'select(.type == "failed") | .temporary' "$RGS_TMP/r.out" | sort -u)" true
done_testing
