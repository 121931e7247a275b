# Helpers for the git area's tests (sourced after tests/lib.sh).
RELAY=0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b
FOLDER=11111111-2222-3333-4444-555555555555
FOLDER2=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
export GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=tester@example.org
export GIT_COMMITTER_NAME=Tester GIT_COMMITTER_EMAIL=tester@example.org
unset SSH_PRIVATE_KEY SSH_PRIVATE_KEY_FILE SSH_KNOWN_HOSTS SSH_KNOWN_HOSTS_FILE GIT_TOKEN RGS_GIT_CONFIG_FILE RGS_SSH_TOFU

# new_data DIR: an empty data directory
new_data() { rm -rf "$1"; mkdir -p "$1"; }
repo_of() { echo "$1/repos/$RELAY/${2:-$FOLDER}"; }

# connector FOLDER URL [key = value lines...]: one [[git_connector]] table
connector() {
  local f=$1 url=$2; shift 2
  printf '[[git_connector]]\nshared_folder_id = "%s"\nrelay_id = "%s"\nurl = "%s"\n' "$f" "$RELAY" "$url"
  local l; for l in "$@"; do printf '%s\n' "$l"; done
  echo
}

# applied PATH [OP] [TIME] [USERS-JSON] [FOLDER] [FROM]: one applied record
applied() {
  local from=null; [ -n "${6:-}" ] && from="\"$6\""
  printf '{"v":1,"type":"applied","ref":"ev:x","relay":"%s","folder":"%s","op":"%s","path":"%s","from":%s,"users":%s,"time":%s}\n' \
    "$RELAY" "${5:-$FOLDER}" "${2:-write}" "$1" "$from" "${4:-[]}" "${3:-100}"
}
tick() { printf '{"v":1,"type":"tick","time":%s,"final":%s}\n' "$1" "${2:-false}"; }

# bare_with BARE [FILE=CONTENT...]: a bare repository whose main has these files
bare_with() {
  local bare=$1; shift
  git init -q --bare -b main "$bare"
  [ $# -gt 0 ] || return 0
  local w; w=$(mktemp -d "$RGS_TMP/seed.XXXXXX")
  git init -q -b main "$w"
  local kv; for kv in "$@"; do mkdir -p "$w/$(dirname "${kv%%=*}")"; printf '%s' "${kv#*=}" >"$w/${kv%%=*}"; done
  git -C "$w" add -A && git -C "$w" commit -q -m seed && git -C "$w" push -q "$bare" main
  rm -rf "$w"
}

# count_type FILE TYPE [FIELD VALUE]: records of a type in an NDJSON file
count_type() {
  if [ $# -ge 4 ]; then jq -c --arg t "$2" --arg f "$3" --arg v "$4" 'select(.type == $t and (.[$f]|tostring) == $v)' "$1" | wc -l
  else jq -c --arg t "$2" 'select(.type == $t)' "$1" | wc -l; fi
}

# spy_on LOGDIR PROGRAM...: put wrappers for these programs first on PATH;
# each call appends its arguments (one per line) to LOGDIR/<prog>.<n>.argv
# and its environment to LOGDIR/<prog>.<n>.env, then runs the real program.
# A wrapper for ssh also records the key file it was given (-i FILE:
# "key=FILE mode=... dirmode=..." in LOGDIR/ssh.<n>.key) and, when
# SPY_SSH_FAIL=1 was set when spy_on ran, stops there (exit 255, as ssh does
# when it cannot connect).
spy_on() {
  local log=$1; shift
  local dir=$RGS_TMP/spy-bin p real
  mkdir -p "$log" "$dir"
  for p in "$@"; do
    real=$(command -v "$p") || return 1
    {
      echo '#!/bin/bash'
      echo "n=\$(mktemp '$log/$p.XXXXXX'); rm -f \"\$n\""
      echo 'printf "%s\n" "$@" >"$n.argv"; env >"$n.env"'
      if [ "$p" = ssh ]; then
        echo 'k=; prev=; for a in "$@"; do [ "$prev" = -i ] && k=$a; prev=$a; done'
        echo 'if [ -n "$k" ]; then echo "key=$k mode=$(stat -c %a "$k" 2>/dev/null) dirmode=$(stat -c %a "$(dirname "$k")" 2>/dev/null)" >"$n.key"; cat "$k" >"$n.keycopy" 2>/dev/null; fi'
        [ "${SPY_SSH_FAIL:-0}" = 1 ] && echo 'echo "ssh: connect to host: Connection refused" >&2; exit 255'
      fi
      echo "exec '$real' \"\$@\""
    } >"$dir/$p"
    chmod +x "$dir/$p"
  done
  export PATH="$dir:$PATH"
}
