#!/usr/bin/env bash
# HTTPS credentials reach only the host they are for, and no secret
# reaches a place it does not need to be (security review of rgs-commit):
#  - the credential helper answers only for the protocol and host (with
#    port) of the connector's URL: a token never follows git elsewhere
#    (here: a url.insteadOf in the user's git config);
#  - GIT_TOKEN_<HOST> gives each host its own token; --check-config warns
#    when one GIT_TOKEN would go to several hosts;
#  - credentials written in a URL (the original service's only way,
#    relay.md §5.12; a token as the user name too) keep working, but the
#    whole userinfo is gone from .git/config, from git's command line (what
#    ps shows) and from every message; --check-config calls them
#    deprecated without showing them;
#  - git's environment holds no Relay key, webhook secret, deploy key or
#    token variable, and the credential variables only in network commands;
#    rgs-commit's own /proc/<pid>/environ no longer shows the token.
# Truths: real git over smart HTTP (git http-backend) behind Basic auth,
# with the credentials each server received logged by the server; wrappers
# that record git's real argv and environment.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/gitlib.sh"
cd "$RGS_TMP"
mkdir -m 700 run && export XDG_RUNTIME_DIR=$RGS_TMP/run
export HOME=$RGS_TMP/home && mkdir -p "$HOME"
T1="tok1-$RANDOM-s3cr3t" T2="tok2-$RANDOM-s3cr3t" T3="ghp_tok3$RANDOM$RANDOM"
T4="p@ss:w%rd/$RANDOM" T4URL="p%40ss%3Aw%25rd%2F${T4##*/}"   # and as written in a URL
mkdir s1 s2 s3 s4
bare_with "$RGS_TMP/s1/notes.git" "README.md=one"
bare_with "$RGS_TMP/s2/notes.git" "README.md=two"
bare_with "$RGS_TMP/s3/notes.git" "README.md=three"
bare_with "$RGS_TMP/s4/notes.git" "README.md=four"
p1=$(free_port) p2=$(free_port) p3=$(free_port) p4=$(free_port)
srv=()
python3 "$RGS_ROOT/tests/git/http_git_server.py" "$p1" "$RGS_TMP/s1" deploy "$T1" "$RGS_TMP/s1.log" & srv+=($!)
# server 2 would accept the first token as well: a leak would not even fail
python3 "$RGS_ROOT/tests/git/http_git_server.py" "$p2" "$RGS_TMP/s2" gitea-bot "$T2" "$RGS_TMP/s2.log" & srv+=($!)
# server 3: the token is the user name, the password empty (https://TOKEN@host/...)
python3 "$RGS_ROOT/tests/git/http_git_server.py" "$p3" "$RGS_TMP/s3" "$T3" "" "$RGS_TMP/s3.log" & srv+=($!)
# server 4: a password with reserved characters, percent-encoded in the URL
python3 "$RGS_ROOT/tests/git/http_git_server.py" "$p4" "$RGS_TMP/s4" "dé ploy" "$T4" "$RGS_TMP/s4.log" & srv+=($!)
trap 'kill ${srv[*]} 2>/dev/null; _t_cleanup' EXIT
for p in $p1 $p2 $p3 $p4; do wait_port "$p" 10 || { notok "http server did not start"; done_testing; }; done
U1="http://127.0.0.1:$p1/notes.git" U2="http://127.0.0.1:$p2/notes.git" U3="http://127.0.0.1:$p3/notes.git"
REALGIT=$(command -v git)
spy_on "$RGS_TMP/spy" git
V2=GIT_TOKEN_127_0_0_1_$p2 VU2=GIT_USERNAME_127_0_0_1_$p2

# --- 1. bound to the connector's host: git sent elsewhere gets nothing
D=$RGS_TMP/d1; new_data "$D"
connector $FOLDER "$U1" >"$D/git_connectors.toml"
printf '[url "http://127.0.0.1:%s/"]\n\tinsteadOf = http://127.0.0.1:%s/\n' "$p2" "$p1" >"$HOME/.gitconfig"
: >s2.log
t_status "git redirected to another host: no credentials there, not ready (111)" 111 \
  env GIT_TOKEN=$T1 GIT_USERNAME=deploy rgs-commit -d "$D" --prepare 2>err1
t_ok "the other host was asked (the redirection happened)" grep -q 'info/refs' s2.log
t_fails "the other host never received the token" grep -qF -- "$T1" s2.log
rm "$HOME/.gitconfig"
env GIT_TOKEN=$T1 GIT_USERNAME=deploy rgs-commit -d "$D" --prepare 2>>err1
t_is "without the redirection: the right host gets it, cloned" "$?" 0

# --- 1. a token per host: GIT_TOKEN_<HOST> (and GIT_USERNAME_<HOST>)
D=$RGS_TMP/d2; new_data "$D"
{ connector $FOLDER "$U1" 'prefix = "notes"'; connector $FOLDER2 "$U2" 'prefix = "notes"'; } >"$D/git_connectors.toml"
: >s1.log; : >s2.log
env GIT_TOKEN=$T1 GIT_USERNAME=deploy "$V2=$T2" "$VU2=gitea-bot" rgs-commit -d "$D" --check-config 2>chk2
t_fails "per-host token: no warning about a shared token" grep -q 'one token is handed to' chk2
env GIT_TOKEN=$T1 GIT_USERNAME=deploy "$V2=$T2" "$VU2=gitea-bot" rgs-commit -d "$D" --prepare 2>err2
t_is "two hosts, two tokens: both cloned" "$?" 0
for f in $FOLDER $FOLDER2; do mkdir -p "$(repo_of "$D" $f)/notes"; echo "$f" >"$(repo_of "$D" $f)/notes/a.md"; done
{ applied notes/a.md; applied notes/a.md write 100 '[]' $FOLDER2; tick 500 true; } |
  env GIT_TOKEN=$T1 GIT_USERNAME=deploy "$V2=$T2" "$VU2=gitea-bot" rgs-commit -d "$D" >out2 2>>err2
t_is "both pushed" "$(jq -r 'select(.type=="push") | .result' out2 | sort | uniq -c | tr -s ' ')" " 2 ok"
t_is "host 2 has its change" "$(git -C s2/notes.git show main:notes/a.md)" "$FOLDER2"
t_fails "host 2 never received host 1's token" grep -qF -- "$T1" s2.log
t_fails "host 1 never received host 2's token" grep -qF -- "$T2" s1.log
t_ok "host 2 received its own user and token" grep -qF "cred=gitea-bot:$T2" s2.log
GIT_TOKEN=$T1 rgs-commit -d "$D" --check-config 2>chk2b
t_ok "--check-config: one GIT_TOKEN for two hosts is reported" \
  grep -qF "one token is handed to 2 hosts (http://127.0.0.1:$p1, http://127.0.0.1:$p2)" chk2b

# --- 2. a token written as the URL's user name (https://TOKEN@host/...)
D=$RGS_TMP/d3; new_data "$D"
connector $FOLDER "http://$T3@127.0.0.1:$p3/notes.git" 'prefix = "notes"' >"$D/git_connectors.toml"
rgs-commit -d "$D" --prepare 2>err3
t_is "token as URL user name: cloned" "$?" 0
W3=$(repo_of "$D")
t_is ".git/config: the URL without userinfo" "$(git -C "$W3" config remote.origin.url)" "$U3"
mkdir -p "$W3/notes"; echo "token user" >"$W3/notes/a.md"
{ applied notes/a.md; tick 500 true; } | rgs-commit -d "$D" >out3 2>>err3
t_is "token as URL user name: pushed" "$(jq -r 'select(.type=="push") | .result' out3)" ok
t_ok "the server got it as user name, empty password" grep -qF "POST /notes.git/git-receive-pack auth=ok cred=$T3:" s3.log
rgs-commit -d "$D" --check-config 2>chk3
t_ok "--check-config: file, line and key; deprecated; GIT_TOKEN" \
  grep -qE "git_connectors.toml:4: url: credentials in the URL .*deprecated.*GIT_TOKEN" chk3
t_fails "--check-config: the token is not shown" grep -qF -- "$T3" chk3

# --- 2. user:password in the URL, in a repository the original service cloned
D=$RGS_TMP/d4; new_data "$D"
connector $FOLDER "http://deploy:$T1@127.0.0.1:$p1/notes.git" >"$D/git_connectors.toml"
mkdir -p "$D/repos/$RELAY"
"$REALGIT" clone -q "http://deploy:$T1@127.0.0.1:$p1/notes.git" "$(repo_of "$D")" 2>/dev/null
W4=$(repo_of "$D")
t_ok "(the original kept the token in .git/config)" grep -qF -- "$T1" "$W4/.git/config"
echo "from url" >"$W4/b.md"
{ applied b.md; tick 600 true; } | rgs-commit -d "$D" >out4 2>err4
t_is "URL user:password: pushed" "$(jq -r 'select(.type=="push") | .result' out4)" ok
t_is ".git/config rewritten without userinfo" "$(git -C "$W4" config remote.origin.url)" "$U1"
t_fails "the token is gone from .git/config" grep -qF -- "$T1" "$W4/.git/config"

# --- 2. percent-encoded user name and password (decoded as git decodes them)
D=$RGS_TMP/d4b; new_data "$D"
connector $FOLDER "http://d%C3%A9%20ploy:$T4URL@127.0.0.1:$p4/notes.git" >"$D/git_connectors.toml"
rgs-commit -d "$D" --prepare 2>err4b
t_is "percent-encoded credentials: cloned" "$?" 0
t_is "percent-encoded credentials: .git/config without them" "$(git -C "$(repo_of "$D")" config remote.origin.url)" \
  "http://127.0.0.1:$p4/notes.git"
t_fails "percent-encoded credentials: not in any message" grep -qF -e "$T4URL" -e "$T4" err4b

# --- 2 and 4: what git was given (argv, environment) and what was printed
spied() { cat spy/git.*."$1" 2>/dev/null; }
t_ok "git ran (the spy saw it)" test -n "$(ls spy/git.*.argv 2>/dev/null)"
for t in "$T1" "$T2" "$T3" "$T4URL"; do
  t_fails "no token in any git command line" grep -qF -- "$t" spy/git.*.argv
done
t_fails "no token in records or messages" bash -c "cat out* err* chk* | grep -qF -e '$T1' -e '$T2' -e '$T3'"
t_fails "no token in the data directories' git config" bash -c "cat '$RGS_TMP'/d*/repos/*/*/.git/config | grep -qF -e '$T1' -e '$T2' -e '$T3'"

# --- 4. git's environment: nothing it does not need
D=$RGS_TMP/d5; new_data "$D"
cp -a "$RGS_TMP/d2/." "$D/"
rm -rf spy; mkdir spy
ssh-keygen -q -t ed25519 -N '' -f deploy
KEYLINE=$(sed -n 2p deploy)
echo "env" >"$(repo_of "$D")/notes/a.md"
{ applied notes/a.md; tick 700 true; } |
  env GIT_TOKEN=$T1 GIT_USERNAME=deploy "$V2=$T2" RELAY_SERVER_API_KEY=relay-key-$T3 WEBHOOK_SECRET=whsec-$T3 \
    SSH_PRIVATE_KEY="$(cat deploy)" GIT_SSL_NO_VERIFY=1 GIT_TRACE=1 rgs-commit -d "$D" >out5 2>err5
# (the remote moved since d2 was copied: fetch, rebase, push)
t_is "pushed (spied)" "$(jq -r 'select(.type=="push") | .result' out5)" rebased
for v in RELAY_SERVER_API_KEY WEBHOOK_SECRET SSH_PRIVATE_KEY GIT_TOKEN "$V2" GIT_USERNAME GIT_SSL_NO_VERIFY GIT_TRACE; do
  t_fails "git's environment has no $v" grep -q "^$v=" spy/git.*.env
done
t_fails "no secret value in git's environment" grep -qF -e "$T3" -e "$KEYLINE" spy/git.*.env
pw_cmds=$(grep -l '^RGS_GIT_PASSWORD=' spy/git.*.env | sed 's/\.env$/.argv/' | xargs -r grep -hxE 'push|fetch|ls-remote|clone' | sort -u | tr '\n' ' ')
t_is "the password variable only in the network commands" "$pw_cmds" "fetch push "
t_ok "a local command ran without it" bash -c "grep -lx 'update-index' spy/git.*.argv | sed 's/argv\$/env/' | xargs grep -L '^RGS_GIT_PASSWORD=' | grep -q ."
t_ok "its host variable names the connector's host" grep -qx "RGS_GIT_HOST=127.0.0.1:$p1" $(grep -l "^RGS_GIT_PASSWORD=$T1\$" spy/git.*.env)

# --- 4. rgs-commit's own environment block no longer shows the token
D=$RGS_TMP/d6; new_data "$D"
mkfifo in6
GIT_TOKEN=$T1 SSH_PRIVATE_KEY="$(cat deploy)" rgs-commit -d "$D" <in6 >/dev/null 2>err6 &
pid6=$!
exec 7>in6
for i in $(seq 100); do ls run/rgs-commit-key.*/git_sync_key >/dev/null 2>&1 && break; sleep 0.05; done
t_ok "rgs-commit running" kill -0 $pid6
# the key file is written just before the environment is wiped: allow the
# start-up a moment (at most 5 s) to finish, then the secrets must be gone
scrubbed() { ! grep -qaF -e "$T1" -e "$KEYLINE" /proc/$pid6/environ; }
for i in $(seq 100); do scrubbed && break; sleep 0.05; done
t_fails "/proc/<pid>/environ: no token" grep -qaF -- "$T1" /proc/$pid6/environ
t_fails "/proc/<pid>/environ: no key material" grep -qaF -- "$KEYLINE" /proc/$pid6/environ
exec 7>&-
wait $pid6
# --- 2. empty parts of the userinfo (decoded to "", as git does): an empty
# password is an empty password, an empty user name is no user name
D=$RGS_TMP/d7; new_data "$D"
connector $FOLDER "http://$T3:@127.0.0.1:$p3/notes.git" >"$D/git_connectors.toml"
: >s3.log
rgs-commit -d "$D" --prepare 2>err7
t_is "URL 'user:@host': cloned" "$?" 0
t_ok "URL 'user:@host': the server got the user and an empty password" grep -qxF "GET /notes.git/info/refs?service=git-upload-pack auth=ok cred=$T3:" s3.log
rgs-commit -d "$D" --check-config 2>chk7
t_ok "URL 'user:@host': --check-config calls it deprecated" grep -qE "git_connectors.toml:4: url: credentials in the URL .*deprecated" chk7
t_fails "URL 'user:@host': the token is not shown" grep -qF -- "$T3" chk7 err7
D=$RGS_TMP/d8; new_data "$D"
connector $FOLDER "http://@127.0.0.1:$p1/notes.git" >"$D/git_connectors.toml"
: >s1.log
env GIT_TOKEN=$T1 GIT_USERNAME=deploy rgs-commit -d "$D" --prepare 2>err8
t_is "URL '@host' (empty user name) with GIT_USERNAME/GIT_TOKEN: cloned" "$?" 0
t_ok "URL '@host': the server got GIT_USERNAME and GIT_TOKEN" grep -qF "auth=ok cred=deploy:$T1" s1.log
t_is "URL '@host': .git/config without the '@'" "$(git -C "$(repo_of "$D")" config remote.origin.url)" "$U1"
env GIT_TOKEN=$T1 rgs-commit -d "$D" --check-config 2>chk8
t_ok "URL '@host': --check-config calls it deprecated, shows the URL without '@'" \
  grep -qF "url: credentials in the URL (http://127.0.0.1:$p1/notes.git) are deprecated" chk8

kill ${srv[*]} 2>/dev/null; wait ${srv[*]} 2>/dev/null
done_testing
