#!/usr/bin/env bash
# HTTPS-style remotes (smart HTTP with Basic auth, git http-backend): the
# token reaches the server through the credential helper, from GIT_TOKEN or
# from a password written in the connector URL, and never lands in
# .git/config, a record or a message.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/gitlib.sh"
cd "$RGS_TMP"
TOKEN="tok-$RANDOM-s3cr3t"
mkdir srv
bare_with "$RGS_TMP/srv/notes.git" "README.md=http remote"
port=$(free_port)
python3 "$RGS_ROOT/tests/git/http_git_server.py" "$port" "$RGS_TMP/srv" deploy "$TOKEN" "$RGS_TMP/http.log" &
srv=$!
trap 'kill $srv 2>/dev/null; _t_cleanup' EXIT
wait_port "$port" 10 || { notok "http server did not start"; done_testing; }
URL="http://127.0.0.1:$port/notes.git"

# --- no token: refused (no prompt, no hang)
D=$RGS_TMP/d0; new_data "$D"
connector $FOLDER "$URL" >"$D/git_connectors.toml"
t_status "no token: not ready (111)" 111 rgs-commit -d "$D" --prepare

# --- token from GIT_TOKEN
D=$RGS_TMP/d1; new_data "$D"
connector $FOLDER "$URL" 'prefix = "notes"' >"$D/git_connectors.toml"
GIT_TOKEN=$TOKEN GIT_USERNAME=deploy rgs-commit -d "$D" --prepare 2>err1
t_is "GIT_TOKEN: cloned" "$?" 0
W=$(repo_of "$D")
mkdir -p "$W/notes"; echo "over http" >"$W/notes/a.md"
{ applied notes/a.md; tick 500 true; } | GIT_TOKEN=$TOKEN GIT_USERNAME=deploy rgs-commit -d "$D" >out1 2>>err1
t_is "GIT_TOKEN: pushed" "$(jq -r 'select(.type=="push") | .result' out1)" ok
t_is "server has it" "$(git -C srv/notes.git show main:notes/a.md)" "over http"
t_ok "the server saw the right credentials" grep -q 'POST /notes.git/git-receive-pack auth=ok' http.log

# --- user and password written in the URL: stripped from .git/config, still used
D=$RGS_TMP/d2; new_data "$D"
connector $FOLDER "http://deploy:$TOKEN@127.0.0.1:$port/notes.git" 'prefix = "notes"' >"$D/git_connectors.toml"
rgs-commit -d "$D" --prepare 2>err2
t_is "URL password: cloned" "$?" 0
W2=$(repo_of "$D")
t_is "remote URL in .git/config has no userinfo" "$(git -C "$W2" remote get-url origin)" "$URL"
echo "again" >"$W2/notes/a.md"
{ applied notes/a.md; tick 600 true; } | rgs-commit -d "$D" >out2 2>>err2
t_is "URL password: pushed" "$(jq -r 'select(.type=="push") | .result' out2)" ok
t_ok "push record URL redacted" bash -c "jq -r 'select(.type==\"push\") | .url' out2 | grep -q '\\*\\*\\*@'"

# --- wrong token: refused, reported
D=$RGS_TMP/d3; new_data "$D"
cp -a "$RGS_TMP/d1/." "$D/"
W3=$(repo_of "$D"); echo "wrong" >"$W3/notes/a.md"
{ applied notes/a.md; tick 700 true; } | GIT_TOKEN=nope GIT_USERNAME=deploy rgs-commit -d "$D" >out3 2>err3
t_is "wrong token: push error" "$(jq -r 'select(.type=="push") | .result' out3)" error

# --- the token never appears anywhere the service writes
t_ok "token not in .git/config" bash -c "! grep -rqF -- '$TOKEN' '$W/.git/config' '$W2/.git/config'"
t_ok "token not in records or messages" bash -c "! cat out* err* | grep -qF -- '$TOKEN'"
t_ok "token not in the data directories" bash -c "! grep -rqF --exclude=git_connectors.toml -- '$TOKEN' '$RGS_TMP/d1' '$RGS_TMP/d2'"
kill $srv; wait $srv 2>/dev/null
done_testing
