#!/usr/bin/env bash
# Where the deploy key lives (security review of rgs-commit; relay.md §8:
# the original kept SSH_PRIVATE_KEY on the data volume, and so in every
# backup, after the variable was removed):
#  - SSH_PRIVATE_KEY is written only to a private runtime directory
#    ($XDG_RUNTIME_DIR here), 0600 in a 0700 directory, never to DATA_DIR;
#    ssh is given that file; it is gone when rgs-commit exits, also on
#    SIGTERM; a SIGKILL leaves it, and the next run removes it;
#  - a key file DATA_DIR/ssh/git_sync_key left by an older version or the
#    original service is removed when SSH_PRIVATE_KEY is given, and the log
#    says so without key material;
#  - SSH_PRIVATE_KEY_FILE is used where it is, never copied;
#  - ssh's environment carries no secret.
# The truth is what ssh was really started with: a wrapper first on PATH
# records its arguments, environment and the key file it was given, then
# fails as an unreachable host would (pushing over a real sshd is
# test-ssh-push.sh).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/gitlib.sh"
cd "$RGS_TMP"
mkdir -m 700 run && export XDG_RUNTIME_DIR=$RGS_TMP/run
ssh-keygen -q -t ed25519 -N '' -C deploy -f deploy
ssh-keygen -q -t ed25519 -N '' -C old -f oldkey
KEYLINE=$(sed -n 2p deploy) OLDLINE=$(sed -n 2p oldkey)
SPY_SSH_FAIL=1 spy_on "$RGS_TMP/spy" ssh
URL="ssh://git@127.0.0.1:1/notes.git"
keydirs() { ls -d run/rgs-commit-key.* 2>/dev/null; }

# --- SSH_PRIVATE_KEY: a runtime copy while running, nothing on the data volume
D=$RGS_TMP/d1; new_data "$D"
connector $FOLDER "$URL" >"$D/git_connectors.toml"
mkdir -m 700 "$D/ssh"; cp oldkey "$D/ssh/git_sync_key"; chmod 600 "$D/ssh/git_sync_key"
SSH_PRIVATE_KEY="$(cat deploy)" RELAY_SERVER_API_KEY=rk-$RANDOM-relay WEBHOOK_SECRET=whsec-x-$RANDOM \
  rgs-commit -d "$D" --prepare >/dev/null 2>err1
t_is "unreachable (the spy stands in for the host): 111" "$?" 111
keyrec=$(cat spy/ssh.*.key 2>/dev/null | head -1)
kpath=$(sed -E 's/^key=([^ ]*) .*/\1/' <<<"$keyrec")
t_ok "ssh was given a key" test -n "$kpath"
case "$kpath" in "$XDG_RUNTIME_DIR"/rgs-commit-key.*/git_sync_key) ok "the key was in the private runtime directory";;
  *) notok "the key was in the private runtime directory"; diag "got: $kpath";; esac
t_is "key file 0600, directory 0700" "$(sed -E 's/^key=[^ ]* //' <<<"$keyrec")" "mode=600 dirmode=700"
t_ok "the file held SSH_PRIVATE_KEY" cmp -s "$(ls spy/ssh.*.keycopy | head -1)" deploy
t_fails "gone after rgs-commit exited" test -e "$kpath"
t_is "no key directory left" "$(keydirs)" ""
t_fails "no key in DATA_DIR/ssh" test -e "$D/ssh/git_sync_key"
t_ok "the old key file's removal is logged" grep -q "deploy key '$D/ssh/git_sync_key': removed" err1
t_fails "no key material in the log" grep -qF -e "$KEYLINE" -e "$OLDLINE" err1
t_fails "no key material anywhere in the data directory" grep -rqF -e "$KEYLINE" -e "$OLDLINE" "$D"
for v in SSH_PRIVATE_KEY RELAY_SERVER_API_KEY WEBHOOK_SECRET RGS_GIT_PASSWORD; do
  t_fails "ssh's environment has no $v" grep -q "^$v=" spy/ssh.*.env
done

# --- SIGTERM while running: removed; SIGKILL: left, removed by the next run
mkfifo in2
run_bg() { SSH_PRIVATE_KEY="$(cat deploy)" rgs-commit -d "$D" <in2 >/dev/null 2>>err2 & pid=$!; exec 7>in2; }
# until the key file itself is there (its directory comes first, the file
# only after the key was parsed)
wait_key() {
  local k
  for i in $(seq 200); do
    for k in $(keydirs); do [ -s "$k/git_sync_key" ] && return 0; done
    sleep 0.05
  done
  return 1
}
run_bg
t_ok "running: its key is in the runtime directory" wait_key
t_is "running: readable by the owner only" "$(stat -c %a $(keydirs)/git_sync_key)" 600
kill -TERM $pid; wait $pid; st=$?; exec 7>&-
t_is "SIGTERM: rgs-commit died of it" "$st" 143
t_is "SIGTERM: the key is gone" "$(keydirs)" ""
run_bg
wait_key
left=$(keydirs)
{ kill -KILL $pid; wait $pid; } 2>/dev/null; exec 7>&-
t_ok "SIGKILL: the key stays behind (a tmpfs in production)" test -e "$left/git_sync_key"
tick 100 true | SSH_PRIVATE_KEY="$(cat deploy)" rgs-commit -d "$D" >/dev/null 2>err3
t_fails "the next run removed it" test -e "$left"
t_is "and left nothing of its own" "$(keydirs)" ""

# --- SSH_PRIVATE_KEY_FILE: used in place, never copied
D=$RGS_TMP/d4; new_data "$D"
connector $FOLDER "$URL" >"$D/git_connectors.toml"
rm -rf spy; mkdir spy
chmod 600 deploy
SSH_PRIVATE_KEY_FILE=$RGS_TMP/deploy rgs-commit -d "$D" --prepare >/dev/null 2>err4
t_is "SSH_PRIVATE_KEY_FILE: ssh got the operator's file" "$(sed -E 's/^key=([^ ]*) .*/\1/' spy/ssh.*.key | sort -u)" "$RGS_TMP/deploy"
t_is "no copy in the runtime directory" "$(ls -A run)" ""
t_fails "no copy in the data directory" grep -rqF -- "$KEYLINE" "$D"

# --- an old key file without SSH_PRIVATE_KEY: kept, but pointed out
D=$RGS_TMP/d5; new_data "$D"
mkdir -m 700 "$D/ssh"; cp oldkey "$D/ssh/git_sync_key"
tick 100 true | rgs-commit -d "$D" >/dev/null 2>err5
t_ok "unused old key: kept" test -e "$D/ssh/git_sync_key"
t_ok "unused old key: the log says to remove it" grep -q "git_sync_key': left on the data volume.*remove it" err5
done_testing
