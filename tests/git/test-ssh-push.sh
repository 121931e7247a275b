#!/usr/bin/env bash
# Pushes over real SSH: an sshd started here on 127.0.0.1 with its own host
# key and the service's deploy key (no system change: as root it runs in a
# private mount namespace that gives it its /run/sshd).  Strict host key
# checking, trust on first use only when asked, wrong host key refused,
# the key never on the data volume (a private runtime copy that is gone
# when rgs-commit ends: test-sshkey.sh), secrets never printed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/gitlib.sh"
cd "$RGS_TMP"
mkdir -m 700 run && export XDG_RUNTIME_DIR=$RGS_TMP/run
[ -x /usr/sbin/sshd ] || { skip "no /usr/sbin/sshd (openssh-server)"; done_testing; }

ssh-keygen -q -t ed25519 -N '' -C host -f hostkey
ssh-keygen -q -t ed25519 -N '' -C other-host -f otherhost
ssh-keygen -q -t ed25519 -N '' -C deploy -f deploy
ssh-keygen -q -t ed25519 -N '' -C stranger -f stranger
cp deploy.pub authorized_keys
port=$(free_port)
user=$(id -un)
. "$RGS_ROOT/tests/sshd.sh"
sshd_start "$RGS_TMP" "$port" "$RGS_TMP/hostkey" "$RGS_TMP/authorized_keys"
sshd_pid=$SSHD_PID
trap 'kill $sshd_pid 2>/dev/null; _t_cleanup' EXIT
wait_port "$port" 10 || { notok "sshd did not start"; sed 's/^/# /' sshd.log; done_testing; }

bare_with "$RGS_TMP/remote.git" "README.md=over ssh"
URL="ssh://$user@127.0.0.1:$port$RGS_TMP/remote.git"
KH="[127.0.0.1]:$port $(cut -d' ' -f1-2 hostkey.pub)"
WRONG_KH="[127.0.0.1]:$port $(cut -d' ' -f1-2 otherhost.pub)"
D=$RGS_TMP/d1; new_data "$D"
connector $FOLDER "$URL" 'prefix = "notes"' >"$D/git_connectors.toml"
export SSH_PRIVATE_KEY="$(cat deploy)"
KEYLINE=$(sed -n 2p deploy)   # a line of private key material, to look for in outputs

# --- strict: known host given -> clone and push over SSH
SSH_KNOWN_HOSTS=$KH rgs-commit -d "$D" --prepare >prep.out 2>prep.err
t_is "prepare over SSH: ready" "$?" 0
W=$(repo_of "$D")
t_is "cloned over SSH" "$(git -C "$W" rev-parse HEAD)" "$(git -C remote.git rev-parse main)"
t_fails "no key file on the data volume" test -e "$D/ssh/git_sync_key"
t_is "no runtime copy of the key left" "$(ls -A run)" ""
t_is "ssh directory (known_hosts) 0700" "$(stat -c %a "$D/ssh")" 700
mkdir -p "$W/notes"; echo "pushed over ssh" >"$W/notes/a.md"
{ applied notes/a.md; tick 500 true; } | SSH_KNOWN_HOSTS=$KH rgs-commit -d "$D" >out1 2>err1
t_is "push over SSH: ok" "$(jq -r 'select(.type=="push") | .result' out1)" ok
t_is "remote has it" "$(git -C remote.git show main:notes/a.md)" "pushed over ssh"

# --- the remote moved: fetch + rebase over SSH too
git clone -q remote.git other
echo "other" >other/other.txt; git -C other add -A; git -C other commit -qm other; git -C other push -q origin main
echo "second" >"$W/notes/a.md"
{ applied notes/a.md; tick 600 true; } | SSH_KNOWN_HOSTS=$KH rgs-commit -d "$D" >out2 2>err2
t_is "rejected push rebased over SSH" "$(jq -r 'select(.type=="push") | .result' out2)" rebased
t_is "both sides on the remote" "$(git -C remote.git show main:other.txt) $(git -C remote.git show main:notes/a.md)" "other second"

# --- wrong host key: refused, nothing pushed
echo "third" >"$W/notes/a.md"
before=$(git -C remote.git rev-parse main)
{ applied notes/a.md; tick 700 true; } | SSH_KNOWN_HOSTS=$WRONG_KH rgs-commit -d "$D" >out3 2>err3
t_is "wrong host key: push error" "$(jq -r 'select(.type=="push") | .result' out3)" error
t_ok "reason: host key verification" grep -qi "host key" <(jq -r 'select(.type=="push") | .reason' out3; cat err3)
t_is "wrong host key: remote unchanged" "$(git -C remote.git rev-parse main)" "$before"

# --- no known host, strict (the default): refused
rm -f "$D/ssh/known_hosts" "$D/ssh/known_hosts.env"
tick 800 true | rgs-commit -d "$D" >out4 2>err4
t_is "unknown host, strict: refused" "$(jq -r 'select(.type=="push") | .result' out4)" error
t_is "unknown host, strict: remote unchanged" "$(git -C remote.git rev-parse main)" "$before"

# --- trust on first use only when asked
tick 900 true | rgs-commit -d "$D" --ssh-accept-new >out5 2>err5
t_is "TOFU: pushed" "$(jq -r 'select(.type=="push") | .result' out5)" ok
t_ok "TOFU: host remembered" grep -q "$(cut -d' ' -f2 hostkey.pub)" "$D/ssh/known_hosts"
t_is "TOFU: remote has the change" "$(git -C remote.git show main:notes/a.md)" "third"

# --- a key the server does not know: refused
D2=$RGS_TMP/d2; new_data "$D2"
connector $FOLDER "$URL" >"$D2/git_connectors.toml"
SSH_PRIVATE_KEY="$(cat stranger)" SSH_KNOWN_HOSTS=$KH rgs-commit -d "$D2" --prepare >/dev/null 2>err6
t_is "unauthorised key: not ready (111)" "$?" 111
t_ok "reason: permission denied" grep -qi "permission denied" err6
t_fails "unauthorised key: no repository" test -e "$(repo_of "$D2")"

# --- closed port: fails fast with a clear reason
D3=$RGS_TMP/d3; new_data "$D3"
connector $FOLDER "ssh://$user@127.0.0.1:$(free_port)/x.git" >"$D3/git_connectors.toml"
SSH_KNOWN_HOSTS=$KH rgs-commit -d "$D3" --prepare >/dev/null 2>err7
t_is "closed port: not ready (111)" "$?" 111
t_ok "closed port: reason" grep -qi "connection refused\|unreachable" err7

# --- secrets never printed
t_ok "no private key material in any output" bash -c "! cat '$RGS_TMP'/out* '$RGS_TMP'/err* '$RGS_TMP'/prep.* | grep -qF -- '$KEYLINE'"
t_ok "no private key in .git/config" bash -c "! grep -rqF -- '$KEYLINE' '$W/.git/config'"
t_ok "fsck" git -C remote.git fsck --no-progress
kill $sshd_pid; wait $sshd_pid 2>/dev/null
done_testing
