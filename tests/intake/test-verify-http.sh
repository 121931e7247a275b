#!/usr/bin/env bash
# rgs-verify behind rgs-accept and behind socat, driven by curl: routes,
# Bearer authentication, the spool entry, keep-alive, /api/pubkey against
# ssh-keygen, 503 on an unwritable spool, logs without secrets.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-intake.sh"

SECRET=s3cret-$RANDOM-$RANDOM
export WEBHOOK_SECRET=$SECRET
unset SSH_PRIVATE_KEY

# the same checks through both listeners
check_listener() { # NAME DATA_DIR
  local n=$1 dd=$2 out=$RGS_TMP/out.$1
  local url=http://127.0.0.1:$PORT

  t_is "$n: GET /health status" "$(status_of "$url/health")" 200
  curl -s "$url/health" >"$out"
  t_is "$n: /health says healthy" "$(jq -r .status "$out")" healthy
  t_is "$n: /health spool depth 0" "$(jq -r .spool.depth "$out")" 0

  t_is "$n: unknown path 404" "$(status_of "$url/nope")" 404
  t_is "$n: 404 body" "$(curl -s "$url/nope")" '{"error":"Not found"}'
  t_is "$n: GET /webhooks 405" "$(status_of "$url/webhooks")" 405
  t_is "$n: 405 names the allowed method" \
    "$(curl -s -D - -o /dev/null "$url/webhooks" | tr -d '\r' | sed -n 's/^Allow: //p')" POST
  t_is "$n: POST /health 405" "$(status_of -X POST -d x "$url/health")" 405
  t_is "$n: HEAD /health 200" "$(status_of -I "$url/health")" 200

  # no Authorization, wrong secret, right secret
  local b; b=$(body)
  curl -s -H 'Content-Type: application/json' -d "$b" "$url/webhooks" >"$out"
  t_is "$n: no Authorization: 401 body (original's text)" "$(cat "$out")" '{"error":"Authentication required"}'
  curl -s -H "Authorization: Bearer x$SECRET" -d "$b" "$url/webhooks" >"$out"
  t_is "$n: wrong secret: 401 body (original's text)" "$(cat "$out")" '{"error":"Authentication failed: Invalid shared secret"}'
  t_is "$n: 'bearer' in lower case refused" \
    "$(status_of -H "Authorization: bearer $SECRET" -d "$b" "$url/webhooks")" 401
  t_is "$n: nothing spooled yet" "$(spooled "$dd")" 0

  curl -s -D "$out.h" -H "Authorization: Bearer $SECRET" -H 'Content-Type: application/json' \
    -d "$b" "$url/webhooks" >"$out"
  t_is "$n: right secret: 200 body byte for byte" "$(cat "$out")" '{"status":"received"}'
  t_ok "$n: 200 is application/json" grep -qi '^Content-Type: application/json' "$out.h"
  t_is "$n: one entry spooled" "$(spooled "$dd")" 1
  local f=$RGS_TMP/rec.$n
  spool_records "$dd" | head -1 >"$f"
  t_is "$n: entry is a webhook record" \
    "$(jq -c '[.v,.type,.relay,.resource,.doc_id,.event_type,.event_id,.timestamp,.user,.metadata,.auth]' "$f")" \
    "[1,\"webhook\",\"$DOC_RELAY\",\"$DOC_RES\",\"$DOC_ID\",\"document.updated\",\"evt_V1StGXR8Z5jdHi6B2myT4\",\"2026-03-03T21:58:48.123456789+00:00\",\"u1\",{},\"bearer\"]"
  t_is "$n: received time is now" "$(jq '(.received - now | fabs) < 60' "$f")" true
  t_is "$n: the record is one line of the batch log" "$(wc -l <"$dd/spool/log/current")" 1

  # upper-case ids are lower-cased; bad envelopes
  local upper; upper=$(echo "$DOC_ID" | tr a-f A-F)
  t_is "$n: upper-case doc_id accepted" \
    "$(status_of -H "Authorization: Bearer $SECRET" -d "$(body "$upper")" "$url/webhooks")" 200
  curl -s -H "Authorization: Bearer $SECRET" -d '{"payload":{' "$url/webhooks" >"$out"
  t_is "$n: invalid JSON: 400 body" "$(cat "$out")" '{"error":"Invalid JSON payload"}'
  curl -s -H "Authorization: Bearer $SECRET" -d '{"payload":{"doc_id":"x"}}' "$url/webhooks" >"$out"
  t_is "$n: bad doc_id: 400 body" "$(cat "$out")" '{"error":"Invalid webhook payload"}'
  t_is "$n: missing timestamp accepted (the original's bug fixed)" \
    "$(status_of -H "Authorization: Bearer $SECRET" -d "{\"payload\":{\"doc_id\":\"$DOC_ID\"}}" "$url/webhooks")" 200
  t_is "$n: three entries now" "$(spooled "$dd")" 3

  # keep-alive: curl reuses one connection for several requests
  local nc
  nc=$(curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\n' \
    "$url/health" "$url/health" "$url/nope" | paste -sd+ | bc)
  t_is "$n: three requests over one connection (keep-alive)" "$nc" 1
  t_is "$n: chunked upload" \
    "$(status_of -H "Authorization: Bearer $SECRET" -H 'Transfer-Encoding: chunked' -d "$b" "$url/webhooks")" 200
  t_is "$n: Expect: 100-continue upload" \
    "$(status_of -H "Authorization: Bearer $SECRET" -H 'Expect: 100-continue' -d "$b" "$url/webhooks")" 200
  t_is "$n: HTTP/1.0 request" "$(status_of --http1.0 "$url/health")" 200
  t_is "$n: five entries now" "$(spooled "$dd")" 5
  curl -s "$url/health" >"$out"
  t_is "$n: /health spool depth 5" "$(jq -r .spool.depth "$out")" 5

  t_is "$n: /api/pubkey without SSH_PRIVATE_KEY: 400 body" "$(curl -s "$url/api/pubkey")" \
    '{"error":"SSH_PRIVATE_KEY environment variable not configured"}'
  curl -s -D "$out.h" "$url/openapi.yaml" >"$out"
  t_diff "$n: /openapi.yaml is the project's file" "$out" "$RGS_ROOT/openapi.yaml"
  t_ok "$n: /openapi.yaml content type" grep -qi '^Content-Type: application/x-yaml' "$out.h"
  t_is "$n: GET /docs 200" "$(status_of "$url/docs")" 200
}

dd=$RGS_TMP/accept
start_accept "$dd" || { notok "rgs-accept starts"; done_testing; }
check_listener accept "$dd"
kill "$ACCEPT_PID"; wait "$ACCEPT_PID" 2>/dev/null

dd=$RGS_TMP/socat
start_socat "$dd" || { notok "socat starts"; done_testing; }
check_listener socat "$dd"
kill "$SOCAT_PID"; wait "$SOCAT_PID" 2>/dev/null

# --- status files in /health, /api/pubkey with a real key, unwritable spool
dd=$RGS_TMP/more
mkdir -p "$dd/status"
# the status files as rgs-server and rgs-commit write them (rgs-records(5))
jq -n '{pid:4242, started:1772575000, state:"ok", listener:"socat", batches:17,
        last_batch:1772575130, last_success:1772575120, events:40, files_changed:12, failures:1}' \
  >"$dd/status/worker.json"
R1=0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b F1=11111111-2222-3333-4444-555555555555 F2=22222222-2222-3333-4444-555555555555
jq -n --arg a "$R1/$F1" --arg b "$R1/$F2" '{
  ($a): {origin: {result:"ok", time:1772575131.5, commit:"0123456789abcdef0123456789abcdef01234567",
                  reason:null, failures:0, next_retry:null, last_ok:1772575131.5},
         "backup-gitlab": {result:"error", time:1772575132, commit:null,
                  reason:"git push: fatal: could not read from remote repository git@secret-host.example:team/notes.git",
                  failures:3, next_retry:1772575200, last_ok:1772570000}},
  ($b): {origin: {result:"rejected", time:1772575133, commit:"fedcba9876543210fedcba9876543210fedcba98",
                  reason:"! [rejected] main -> main (fetch first)", failures:1, next_retry:1772575140}}}' \
  >"$dd/status/push.json"
ssh-keygen -q -t ed25519 -N '' -C test -f "$RGS_TMP/key"
SSH_PRIVATE_KEY=$(cat "$RGS_TMP/key") start_accept "$dd"
url=http://127.0.0.1:$PORT
curl -s "$url/health" >"$RGS_TMP/h"
t_is "/health: status, spool depth, worker state and times, per remote result, time, failures" \
  "$(jq -cS . "$RGS_TMP/h")" \
  "$(jq -cnS '{status:"healthy", spool:{depth:0},
     worker:{state:"ok", last_batch:1772575130, last_success:1772575120},
     push:[{result:"error", time:1772575132, failures:3}, {result:"ok", time:1772575131.5, failures:0},
           {result:"rejected", time:1772575133, failures:1}]}')"
t_fails "/health: no ids, remote names, commits, error texts, pids" \
  grep -qiE "$R1|$F1|$F2|origin|gitlab|0123456789abcdef|fedcba98|secret-host|rejected\]|fatal|4242|socat" "$RGS_TMP/h"
t_fails "/health: no version, no authentication mode" grep -qE '"(version|auth)"' "$RGS_TMP/h"
# status files with other shapes: unknown words and non-numbers left out
echo '{"state":"<script>","last_batch":"yesterday","last_success":null}' >"$dd/status/worker.json"
echo '{"x":{"origin":{"result":"pwned by /etc/passwd","time":"now","failures":-1}},"y":7}' >"$dd/status/push.json"
t_is "/health: only known words and numbers are copied" "$(curl -s "$url/health" | jq -c '[.worker, .push]')" \
  '[{"last_success":null},[{}]]'
rm -rf "$dd/spool"; echo "not a directory" >"$dd/spool"
t_is "/health: unreadable spool: depth null, no error text" "$(curl -s "$url/health" | jq -c .spool)" '{"depth":null}'
rm -f "$dd/spool"
curl -s "$url/api/pubkey" >"$RGS_TMP/pk"
t_is "/api/pubkey equals ssh-keygen -y" "$(jq -r .public_key "$RGS_TMP/pk")" "$(ssh-keygen -y -f "$RGS_TMP/key" | cut -d' ' -f1,2)"
t_is "/api/pubkey key_type" "$(jq -r .key_type "$RGS_TMP/pk")" ssh-ed25519

mkdir -p "$dd/spool"
rm -rf "$dd/spool/log"; echo "not a directory" >"$dd/spool/log"
curl -s -H "Authorization: Bearer $SECRET" -d "$(body)" "$url/webhooks" >"$RGS_TMP/o"
t_is "unwritable spool: 503, nothing acknowledged" "$(cat "$RGS_TMP/o")" \
  '{"error":"Service unavailable: the event could not be stored"}'
rm -f "$dd/spool/log"
t_is "spool writable again: 200" "$(status_of -H "Authorization: Bearer $SECRET" -d "$(body)" "$url/webhooks")" 200
kill "$ACCEPT_PID"; wait "$ACCEPT_PID" 2>/dev/null

# --- empty secret fails closed; --webhook-secret-file; dry run
dd=$RGS_TMP/closed
WEBHOOK_SECRET= start_accept "$dd"
t_is "empty secret: every webhook 401" \
  "$(status_of -H "Authorization: Bearer " -d "$(body)" "http://127.0.0.1:$PORT/webhooks")" 401
kill "$ACCEPT_PID"; wait "$ACCEPT_PID" 2>/dev/null
printf '%s\n' "file-$SECRET" >"$RGS_TMP/secret"
WEBHOOK_SECRET= start_accept "$dd" --webhook-secret-file "$RGS_TMP/secret"
t_is "--webhook-secret-file: its secret works" \
  "$(status_of -H "Authorization: Bearer file-$SECRET" -d "$(body)" "http://127.0.0.1:$PORT/webhooks")" 200
kill "$ACCEPT_PID"; wait "$ACCEPT_PID" 2>/dev/null
dd=$RGS_TMP/dry
start_accept "$dd" -n
t_is "dry run: 200" "$(status_of -H "Authorization: Bearer $SECRET" -d "$(body)" "http://127.0.0.1:$PORT/webhooks")" 200
t_is "dry run: nothing written" "$(find "$dd" -type f 2>/dev/null | wc -l)" 0
kill "$ACCEPT_PID"; wait "$ACCEPT_PID" 2>/dev/null

# --- where /docs and /openapi.yaml come from: an installed tree (local
# Swagger UI assets, the normal case); without swagger-ui-dist, the pinned
# version from the CDN under Subresource Integrity, or with the CDN turned
# off a notice page that loads nothing
if [ -d "$RGS_ROOT/share/www/node_modules/swagger-ui-dist" ]; then
  inst=$RGS_TMP/inst
  san=(); [[ $RGS_BIN == */san/bin ]] && san=(SAN=1)
  make -s -C "$RGS_ROOT" install "${san[@]}" BUILD="${RGS_BIN%/bin}" DESTDIR="$inst" PREFIX=/usr >/dev/null 2>&1
  if [ -x "$inst/usr/bin/rgs-verify" ]; then
    printf 'GET /docs HTTP/1.1\r\nHost: x\r\n\r\nGET /docs/swagger-ui.css HTTP/1.1\r\nHost: x\r\n\r\nGET /openapi.yaml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
      env -u RGS_SHARE_DIR "$inst/usr/bin/rgs-verify" -d "$RGS_TMP/inst-data" >"$RGS_TMP/inst.out" 2>/dev/null
    t_is "installed: /docs, a Swagger UI asset and openapi.yaml found under PREFIX/share/rgs" \
      "$(grep -ao 'HTTP/1.1 200 OK' "$RGS_TMP/inst.out" | wc -l)" 3
    t_ok "installed: /docs loads Swagger UI from /docs/" grep -q 'src="docs/swagger-ui-bundle.js"' "$RGS_TMP/inst.out"
    t_ok "installed: the installed openapi.yaml is served" grep -q '^openapi: 3.1' "$RGS_TMP/inst.out"
    rm -rf "$inst/usr/share/rgs/swagger-ui"
    printf 'GET /docs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
      env -u RGS_SHARE_DIR "$inst/usr/bin/rgs-verify" -d "$RGS_TMP/inst-data" >"$RGS_TMP/inst2.out" 2>/dev/null
    t_ok "installed without swagger-ui: Swagger UI from the CDN" grep -q 'src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@' "$RGS_TMP/inst2.out"
  else
    notok "make install put rgs-verify under DESTDIR"
  fi
else
  skip "swagger-ui-dist not installed (tests/setup installs it)"
fi
mkdir -p "$RGS_TMP/share-bare"
cp "$RGS_ROOT/openapi.yaml" "$RGS_TMP/share-bare/"
docs_bare() { # [rgs-verify args]: /docs, an asset and openapi.yaml without local Swagger UI
  printf 'GET /docs HTTP/1.1\r\nHost: x\r\n\r\nGET /docs/swagger-ui.css HTTP/1.1\r\nHost: x\r\n\r\nGET /openapi.yaml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
    rgs-verify --share-dir "$RGS_TMP/share-bare" -d "$RGS_TMP/bare" "$@" 2>/dev/null
}
docs_bare >"$RGS_TMP/cdn.out"
sed -n '/^<!DOCTYPE/,/^<\/html>/p' "$RGS_TMP/cdn.out" >"$RGS_TMP/cdn.html"
want_version=$(jq -r '.dependencies["swagger-ui-dist"]' "$RGS_ROOT/share/www/package.json")
base="https://cdn.jsdelivr.net/npm/swagger-ui-dist@$want_version"
t_ok "no local Swagger UI: the bundle from the CDN at share/www/package.json's version ($want_version)" \
  grep -q "<script src=\"$base/swagger-ui-bundle.js\"" "$RGS_TMP/cdn.html"
t_ok "no local Swagger UI: the stylesheet from the CDN at that version" \
  grep -q "<link rel=\"stylesheet\" href=\"$base/swagger-ui.css\"" "$RGS_TMP/cdn.html"
t_is "no local Swagger UI: every remote URL is pinned to that version" \
  "$(grep -o 'https\?://[^"]*' "$RGS_TMP/cdn.html" | grep -vc "^$base/")" 0
t_is "no local Swagger UI: both remote files carry an integrity hash, with crossorigin" \
  "$(grep -c 'integrity="sha384-[A-Za-z0-9+/=]*" crossorigin="anonymous"' "$RGS_TMP/cdn.html")" 2
# the hashes against the package's own bytes (npm registry tarball =
# what jsDelivr serves for npm/<package>@<version>/<file>)
pkg=$RGS_ROOT/share/www/node_modules/swagger-ui-dist
if [ -f "$pkg/package.json" ] && [ "$(jq -r .version "$pkg/package.json")" = "$want_version" ]; then
  for f in swagger-ui-bundle.js swagger-ui.css; do
    sri="sha384-$(openssl dgst -sha384 -binary "$pkg/$f" | base64 -w0)"
    got=$(tr '\n' ' ' <"$RGS_TMP/cdn.html" | grep -o "/$f\"[[:space:]]*integrity=\"[^\"]*\"" | sed 's/.*integrity="//; s/"$//')
    t_is "no local Swagger UI: integrity of $f = sha384 of the npm package's file" "$got" "$sri"
  done
else
  skip "swagger-ui-dist $want_version not installed: integrity not recomputed"
  skip "swagger-ui-dist $want_version not installed: integrity not recomputed"
fi
t_ok "no local Swagger UI: CSP allows the CDN for scripts and styles only" \
  grep -aq "^Content-Security-Policy: default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; script-src 'self' https://cdn.jsdelivr.net" "$RGS_TMP/cdn.out"
t_ok "no local Swagger UI: the page names the CDN and links openapi.yaml" \
  grep -q 'loaded from cdn.jsdelivr.net.*<a href="openapi.yaml">' "$RGS_TMP/cdn.html"
t_ok "no local Swagger UI: the init script is local" grep -q '<script src="docs/rgs-init.js">' "$RGS_TMP/cdn.html"

for how in --no-docs-cdn RGS_DOCS_CDN=0; do
  if [ "$how" = --no-docs-cdn ]; then docs_bare --no-docs-cdn >"$RGS_TMP/bare.out"
  else RGS_DOCS_CDN=0 docs_bare >"$RGS_TMP/bare.out"; fi
  sed -n '/^<!DOCTYPE/,/^<\/html>/p' "$RGS_TMP/bare.out" >"$RGS_TMP/bare.html"
  t_ok "$how: /docs says the assets are not installed" grep -q 'Swagger UI viewer is not installed' "$RGS_TMP/bare.html"
  t_ok "$how: the page links openapi.yaml" grep -q '<a href="openapi.yaml">' "$RGS_TMP/bare.html"
  t_fails "$how: no script, no remote URL in the page" grep -qiE '<script|https?://|//unpkg' "$RGS_TMP/bare.html"
  t_ok "$how: the page may load nothing (CSP default-src 'none')" \
    grep -aq "^Content-Security-Policy: default-src 'none'" "$RGS_TMP/bare.out"
done
t_ok "no local Swagger UI: its assets are 404" grep -aq 'HTTP/1.1 404 Not Found' "$RGS_TMP/bare.out"
t_ok "no local Swagger UI: openapi.yaml still served" grep -q '^openapi: 3.1' "$RGS_TMP/bare.out"

# --- by hand: a request file on stdin, the response on stdout
b=$(body)
printf 'POST /webhooks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s' \
  "$SECRET" "${#b}" "$b" >"$RGS_TMP/req"
rgs-verify -d "$RGS_TMP/hand" <"$RGS_TMP/req" >"$RGS_TMP/resp" 2>"$RGS_TMP/hand.log"
t_is "by hand: status line" "$(head -1 "$RGS_TMP/resp" | tr -d '\r')" "HTTP/1.1 200 OK"
t_is "by hand: body" "$(tail -c 21 "$RGS_TMP/resp")" '{"status":"received"}'
t_is "by hand: spooled" "$(spooled "$RGS_TMP/hand")" 1
t_ok "by hand: one log line for the request" grep -q "^rgs-verify: info: POST /webhooks 200 'stdin'" "$RGS_TMP/hand.log"

# --- logs: one line per request, never the secret
t_fails "the secret never appears in the logs" grep -q -e "$SECRET" "$RGS_TMP/server.log" "$RGS_TMP/hand.log"
t_ok "log lines follow 'rgs-verify: level: what' " grep -q "^rgs-verify: info: GET /health 200 '127.0.0.1:" "$RGS_TMP/server.log"
t_ok "--help" sh -c "rgs-verify --help >/dev/null"
t_status "bad option: exit 100" 100 sh -c "rgs-verify --no-such-option 2>/dev/null"
done_testing
