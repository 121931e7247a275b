#!/usr/bin/env bash
# Real HTTPS on loopback: git http-backend behind a TLS server (Python ssl)
# with a self-signed certificate made by the openssl CLI, trusted through
# GIT_SSL_CAINFO.  The token reaches the server through the credential
# helper's https branch; an untrusted certificate, another host (a
# url.insteadOf in the user's git config) or a downgrade to plain http
# (even to a loopback address) never receive it.  Truth: what each server
# logs of the Authorization header it received.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/gitlib.sh"
cd "$RGS_TMP"
export HOME=$RGS_TMP/home && mkdir -p "$HOME"
TOKEN="tls-$RANDOM-s3cr3t"
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
mkdir s1 s2 s3
for s in s1 s2 s3; do bare_with "$RGS_TMP/$s/notes.git" "README.md=$s"; done
p1=$(free_port) p2=$(free_port) p3=$(free_port)
srv=()
python3 "$RGS_ROOT/tests/git/http_git_server.py" "$p1" "$RGS_TMP/s1" deploy "$TOKEN" "$RGS_TMP/s1.log" cert.pem key.pem & srv+=($!)
# server 2 (TLS, same certificate, would accept the same token) is "another host": localhost
python3 "$RGS_ROOT/tests/git/http_git_server.py" "$p2" "$RGS_TMP/s2" deploy "$TOKEN" "$RGS_TMP/s2.log" cert.pem key.pem & srv+=($!)
# server 3: plain http on 127.0.0.2, a loopback address the helper does not trust for clear text
BIND_ADDR=127.0.0.2 python3 "$RGS_ROOT/tests/git/http_git_server.py" "$p3" "$RGS_TMP/s3" deploy "$TOKEN" "$RGS_TMP/s3.log" & srv+=($!)
trap 'kill ${srv[*]} 2>/dev/null; _t_cleanup' EXIT
for p in $p1 $p2; do wait_port "$p" 10 || { notok "https server did not start"; done_testing; }; done
for i in $(seq 50); do curl -s -o /dev/null "http://127.0.0.2:$p3/" && break; sleep 0.1; done
touch s1.log s2.log s3.log
U1="https://127.0.0.1:$p1/notes.git"
t_ok "truth: curl reaches the TLS server with the CA file" curl -sf --cacert cert.pem -u "deploy:$TOKEN" -o /dev/null "$U1/info/refs?service=git-upload-pack"
: >s1.log

# --- untrusted certificate: refused before any HTTP request (so no token)
D=$RGS_TMP/d0; new_data "$D"
connector $FOLDER "$U1" >"$D/git_connectors.toml"
GIT_TOKEN=$TOKEN GIT_USERNAME=deploy rgs-commit -d "$D" --prepare 2>err0; rc=$?
t_is "self-signed certificate not trusted: not ready (111)" "$rc" 111
t_ok "the reason is the certificate" grep -qi "certificate" err0
t_is "the server received no request at all" "$(wc -l <s1.log)" 0

# --- trusted through GIT_SSL_CAINFO: clone, commit, push over TLS with the token
export GIT_SSL_CAINFO=$RGS_TMP/cert.pem
D=$RGS_TMP/d1; new_data "$D"
connector $FOLDER "$U1" 'prefix = "notes"' >"$D/git_connectors.toml"
GIT_TOKEN=$TOKEN GIT_USERNAME=deploy rgs-commit -d "$D" --prepare 2>err1
t_is "https: cloned" "$?" 0
W=$(repo_of "$D"); mkdir -p "$W/notes"; echo "over tls" >"$W/notes/a.md"
{ applied notes/a.md; tick 500 true; } | GIT_TOKEN=$TOKEN GIT_USERNAME=deploy rgs-commit -d "$D" >out1 2>>err1
t_is "https: pushed" "$(jq -r 'select(.type=="push") | .result' out1)" ok
t_is "the TLS server has the commit" "$(git -C s1/notes.git show main:notes/a.md)" "over tls"
t_ok "the token arrived with the push (https branch of the helper)" grep -q "POST /notes.git/git-receive-pack auth=ok" s1.log
t_ok "token not in .git/config, records or messages" bash -c "! grep -qF -- '$TOKEN' '$W/.git/config' out1 err1"

# no_token N URL LOG CONTACTED NEVER: rgs-commit --prepare with the token on a
# fresh data directory dN with one connector to URL (stderr in errN); the
# server logging to LOG was contacted (test CONTACTED) and never received the
# token (test NEVER)
no_token() {
  local D=$RGS_TMP/d$1
  new_data "$D"
  connector $FOLDER "$2" >"$D/git_connectors.toml"
  GIT_TOKEN=$TOKEN GIT_USERNAME=deploy rgs-commit -d "$D" --prepare 2>"err$1"
  t_ok "$4" grep -q "info/refs" "$3"
  t_ok "$5" bash -c "! grep -qF -- '$TOKEN' $3 && ! grep -q auth=ok $3"
}

# --- another host (url.insteadOf sends git to https://localhost:p2): no token
printf '[url "https://localhost:%s/"]\n\tinsteadOf = https://127.0.0.1:%s/\n' "$p2" "$p1" >"$HOME/.gitconfig"
no_token 2 "$U1" s2.log "redirected to another host: it was contacted" "another host never receives the token"

# --- downgrade to plain http (insteadOf https -> http://127.0.0.2): no token
printf '[url "http://127.0.0.2:%s/"]\n\tinsteadOf = https://127.0.0.1:%s/\n' "$p3" "$p1" >"$HOME/.gitconfig"
no_token 3 "$U1" s3.log "downgraded to http: it was contacted" "plain http (downgrade) never receives the token"

# --- a plain http URL configured directly (not the loopback 127.0.0.1): no token
rm -f "$HOME/.gitconfig"; : >s3.log
no_token 4 "http://127.0.0.2:$p3/notes.git" s3.log "plain http URL: contacted" "plain http URL never receives the token"
kill "${srv[@]}"; wait "${srv[@]}" 2>/dev/null
done_testing
