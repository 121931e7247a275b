#!/usr/bin/env bash
# openapi.yaml: valid OpenAPI 3.1 (@seriousme/openapi-schema-validator);
# every status rgs-verify gives on every path (curl, and raw requests for
# 400 408 413 414 417 431 501 505; 405 on each path; 500s and 503 from
# broken set-ups) is observed and, by openapi-check.js, documented for
# that operation with its content type and a body valid against its
# schema; the check is shown to fail with a status removed from the file.
# /docs rendered by headless Chromium shows every operation, from local
# assets only; screenshot in build/intake-docs.png.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-intake.sh"

export WEBHOOK_SECRET=s3cret-$RANDOM
unset SSH_PRIVATE_KEY RGS_SSH_PUBLIC_KEY RGS_SSH_KEY_TYPE
dd=$RGS_TMP/d
# a short read deadline so that the slow clients' 408 comes soon
start_accept "$dd" --timeout 2 || { notok "rgs-accept starts"; done_testing; }
url=http://127.0.0.1:$PORT
obs=$RGS_TMP/observed
n=0
observe() { # METHOD PATH curl-args...: one answer of $url into $obs
  local m=$1 p=$2; shift 2; n=$((n+1))
  local st; st=$(curl -s --max-time 20 -o "$RGS_TMP/b.$n" -w '%{http_code} %{content_type}' -X "$m" "$@" "$url$p")
  st=${st%%;*}
  echo "$m $p ${st% *} $RGS_TMP/b.$n ${st#* }" >>"$obs"
  LAST=${st% *}
}
observe POST /webhooks -H "Authorization: Bearer $WEBHOOK_SECRET" -d "$(body)"
observe POST /webhooks -d "$(body)"
observe POST /webhooks -H "Authorization: Bearer $WEBHOOK_SECRET" -d '{'
observe POST /webhooks -H "Authorization: Bearer $WEBHOOK_SECRET" -d '{"payload":{}}'
mkdir -p "$dd/spool" && mv "$dd/spool/log" "$dd/spool/log.away" && echo "not a directory" >"$dd/spool/log"
observe POST /webhooks -H "Authorization: Bearer $WEBHOOK_SECRET" -d "$(body)"
t_is "unwritable spool: POST /webhooks 503" "$LAST" 503
rm "$dd/spool/log"; mv "$dd/spool/log.away" "$dd/spool/log"
observe GET /health
observe GET /api/pubkey
observe GET /openapi.yaml
observe GET /docs
observe GET /docs/swagger-ui.css
observe GET /docs/rgs-init.js
observe GET /docs/nope.js
t_is "unknown asset: 404" "$LAST" 404
# 405 on every path, with a method each path does not have
for mp in "GET /webhooks" "PUT /webhooks" "DELETE /health" "POST /api/pubkey" "POST /openapi.yaml" \
  "PUT /docs" "DELETE /docs/swagger-ui.css"; do
  observe $mp
  t_is "$mp: 405" "$LAST" 405
done

# what curl cannot send: raw requests on every path,
# each expected status checked, then its answer recorded for openapi-check.js
raw=$RGS_TMP/raw; mkdir -p "$raw"
long=$(head -c 9000 /dev/zero | tr '\0' a)
many=$(for i in $(seq 1 150); do printf 'X-H%d: v\r\n' "$i"; done)
k=0; declare -A want where
for mp in "POST /webhooks" "GET /health" "GET /api/pubkey" "GET /openapi.yaml" "GET /docs" "GET /docs/swagger-ui.css"; do
  m=${mp% *} p=${mp#* }
  req() { # STATUS SUFFIX BYTES
    k=$((k+1)); printf '%s' "$3" >"$raw/r$k$2"; want[r$k$2]=$1; where[r$k$2]="$m $p"
  }
  req 400 "" "$m $p HTTP/1.1"$'\r\n\r\n'                                   # no Host
  req 408 .hold "$m $p HTTP/1.1"$'\r\nHost: x\r\n'                          # slow client
  req 413 "" "$m $p HTTP/1.1"$'\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n'
  req 414 "" "$m $p?q=$long HTTP/1.1"$'\r\nHost: x\r\n\r\n'
  req 417 "" "$m $p HTTP/1.1"$'\r\nHost: x\r\nExpect: 100-foo\r\nContent-Length: 0\r\n\r\n'
  req 431 "" "$m $p HTTP/1.1"$'\r\nHost: x\r\n'"$many"$'\r\n'
  req 501 "" "$m $p HTTP/1.1"$'\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n'
  req 505 "" "$m $p HTTP/3.0"$'\r\nHost: x\r\n\r\n'
done
# two batches: rgs-accept lets one peer have 32 connections at once
files=("$raw"/r*)
node "$RGS_ROOT/tests/intake/raw-observe.js" "$PORT" "${files[@]:0:24}" >"$RGS_TMP/raw.out"
node "$RGS_ROOT/tests/intake/raw-observe.js" "$PORT" "${files[@]:24}" >>"$RGS_TMP/raw.out"
while read -r f st ct; do
  t_is "raw ${where[$f]}: ${want[$f]}" "$st" "${want[$f]}"
  echo "${where[$f]} $st $raw/$f.resp $ct" >>"$obs"
done <"$RGS_TMP/raw.out"
t_is "every raw request answered" "$(wc -l <"$RGS_TMP/raw.out")" "$k"
kill "$ACCEPT_PID"; wait "$ACCEPT_PID" 2>/dev/null

# what needs another set-up: a share directory whose openapi.yaml is missing
# and whose Swagger UI asset cannot be read, an unreadable SSH key, a real
# key, an sk_ secret (every webhook refused)
bad=$RGS_TMP/share-bad; mkdir -p "$bad/swagger-ui/favicon-32x32.png"
truncate -s 5M "$bad/openapi.yaml" # over the 4 MiB rgs-verify reads
echo 'x' >"$bad/swagger-ui/swagger-ui-bundle.js"; echo 'x' >"$bad/swagger-ui/swagger-ui.css"
WEBHOOK_SECRET=sk_$RANDOM SSH_PRIVATE_KEY="not a key" start_accept "$RGS_TMP/d3" --share-dir "$bad" ||
  notok "rgs-accept with a broken share directory starts"
url=http://127.0.0.1:$PORT
observe GET /openapi.yaml;             t_is "openapi.yaml missing: 500" "$LAST" 500
observe GET /docs/favicon-32x32.png;   t_is "asset unreadable: 500" "$LAST" 500
observe GET /api/pubkey;               t_is "SSH_PRIVATE_KEY not a key: 500" "$LAST" 500
observe POST /webhooks -H "Authorization: Bearer sk_x" -d "$(body)"
t_is "sk_ secret: 401 for every webhook" "$LAST $(cat "$RGS_TMP/b.$n")" \
  '401 {"error":"Authentication failed: JWT webhook authentication is not supported"}'
kill "$ACCEPT_PID"; wait "$ACCEPT_PID" 2>/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$RGS_TMP/key" >/dev/null
SSH_PRIVATE_KEY=$(cat "$RGS_TMP/key") start_accept "$RGS_TMP/d4" || notok "rgs-accept with a key starts"
url=http://127.0.0.1:$PORT
observe GET /api/pubkey;               t_is "/api/pubkey with a key: 200" "$LAST" 200
kill "$ACCEPT_PID"; wait "$ACCEPT_PID" 2>/dev/null

node "$RGS_ROOT/tests/intake/openapi-check.js" "$RGS_ROOT/openapi.yaml" "$obs" >"$RGS_TMP/oc"
while read -r line; do
  case $line in ok\ *) ok "${line#ok }" ;; *) notok "${line#not ok }" ;; esac
done <"$RGS_TMP/oc"
t_is "every observed answer is documented" "$(grep -cE '^ok [A-Z]+ [^ ]+ [0-9]{3} is documented$' "$RGS_TMP/oc")" "$(wc -l <"$obs")"
t_ok "every path of openapi.yaml observed with 400 405 408 413 414 417 431 501 505" \
  test "$(awk '$3 ~ /^(400|405|408|413|414|417|431|501|505)$/ {print $2 == "/docs/swagger-ui.css" || $2 == "/docs/favicon-32x32.png" ? "/docs/{asset}" : $2, $3}' "$obs" | sort -u | wc -l)" = 54

# the check itself can fail: one status taken out of openapi.yaml, one
# body that does not match its schema
node -e '
  const fs = require("fs"), YAML = require("yaml");
  const s = YAML.parse(fs.readFileSync(process.argv[1], "utf8"));
  delete s.paths["/webhooks"].post.responses["414"];
  fs.writeFileSync(process.argv[2], YAML.stringify(s));' "$RGS_ROOT/openapi.yaml" "$RGS_TMP/cut.yaml"
node "$RGS_ROOT/tests/intake/openapi-check.js" "$RGS_TMP/cut.yaml" "$obs" >"$RGS_TMP/oc2"
t_ok "414 removed from openapi.yaml: the check fails for it" grep -q '^not ok POST /webhooks 414 is documented' "$RGS_TMP/oc2"
t_is "... and only for it" "$(grep -c '^not ok' "$RGS_TMP/oc2")" 1
echo '{"status":"stored"}' >"$RGS_TMP/wrong"; echo '{"message":"x"}' >"$RGS_TMP/wrong2"
printf '%s\n' "POST /webhooks 200 $RGS_TMP/wrong application/json" "GET /docs 405 $RGS_TMP/wrong2 application/json" \
  "GET /docs 200 $RGS_TMP/wrong application/json" >"$RGS_TMP/obs-wrong"
node "$RGS_ROOT/tests/intake/openapi-check.js" "$RGS_ROOT/openapi.yaml" "$RGS_TMP/obs-wrong" >"$RGS_TMP/oc3"
t_is "bodies or types not matching openapi.yaml: the check fails" "$(grep -c '^not ok' "$RGS_TMP/oc3")" 3

# the Swagger UI page (local assets, then the CDN fallback)
start_accept "$RGS_TMP/d5" || notok "rgs-accept starts again"
url=http://127.0.0.1:$PORT
if [ ! -d "$RGS_ROOT/share/www/node_modules/swagger-ui-dist" ]; then
  skip "Swagger UI assets not installed (tests/setup installs them)"
else
  mkdir -p "$RGS_ROOT/build"
  shot=$RGS_ROOT/build/intake-docs.png
  rm -f "$shot"
  node "$RGS_ROOT/tests/intake/docs-check.js" "$url/docs" "$shot" "$RGS_ROOT/openapi.yaml" >"$RGS_TMP/r.json" 2>"$RGS_TMP/node.err"
  r=$RGS_TMP/r.json
  t_is "Chromium rendered every operation of openapi.yaml" \
    "$(jq -c '.shown | sort' "$r" 2>/dev/null)" "$(jq -c '.operations | sort' "$r" 2>/dev/null)"
  t_ok "at least 6 operations shown" test "$(jq '.shown | length' "$r" 2>/dev/null || echo 0)" -ge 6
  t_is "page title from openapi.yaml" "$(jq -r '.title' "$r" | sed 's/ *[0-9.]*OAS.*//; s/ 1\.0$//' )" "relay-git-sync"
  t_is "no request left this machine (local Swagger UI assets)" "$(jq -c .offsite "$r")" "[]"
  t_is "no console errors (CSP included)" "$(jq -c .errors "$r")" "[]"
  t_ok "screenshot saved in build/" test -s "$shot"
  [ -s "$RGS_TMP/node.err" ] && sed 's/^/# /' "$RGS_TMP/node.err" | head -5

  # --- without local assets: the pinned version from the CDN, under
  # Subresource Integrity (the CDN played by the browser's request routing
  # with the npm package's own bytes; a changed byte must be refused)
  kill "$ACCEPT_PID"; wait "$ACCEPT_PID" 2>/dev/null
  mkdir -p "$RGS_TMP/share-bare" && cp "$RGS_ROOT/openapi.yaml" "$RGS_TMP/share-bare/"
  start_accept "$RGS_TMP/d2" --share-dir "$RGS_TMP/share-bare" || notok "rgs-accept without Swagger UI starts"
  pkg=$RGS_ROOT/share/www/node_modules/swagger-ui-dist
  CDN_DIR=$pkg node "$RGS_ROOT/tests/intake/docs-check.js" "http://127.0.0.1:$PORT/docs" "$RGS_TMP/cdn.png" \
    "$RGS_ROOT/openapi.yaml" >"$RGS_TMP/cdn.json" 2>"$RGS_TMP/node.err"
  r=$RGS_TMP/cdn.json
  t_is "CDN fallback: Chromium rendered every operation" \
    "$(jq -c '.shown | sort' "$r" 2>/dev/null)" "$(jq -c '.operations | sort' "$r" 2>/dev/null)"
  t_is "CDN fallback: the two pinned files came from the CDN, nothing else left" \
    "$(jq -c '[.cdn[] | sub(".*/"; "")] | sort' "$r")+$(jq -c .offsite "$r")" '["swagger-ui-bundle.js","swagger-ui.css"]+[]'
  t_is "CDN fallback: no console errors (SRI and CSP passed)" "$(jq -c .errors "$r")" "[]"
  CDN_DIR=$pkg CDN_TAMPER=1 OPBLOCK_TIMEOUT_MS=5000 node "$RGS_ROOT/tests/intake/docs-check.js" "http://127.0.0.1:$PORT/docs" "$RGS_TMP/cdn2.png" \
    "$RGS_ROOT/openapi.yaml" >"$RGS_TMP/cdn2.json" 2>"$RGS_TMP/node.err"
  r=$RGS_TMP/cdn2.json
  t_is "CDN fallback, one byte of the bundle changed: nothing rendered" "$(jq -c .shown "$r")" "[]"
  t_ok "CDN fallback, one byte changed: the browser refused it for its integrity" \
    bash -c "jq -r '.errors[]' '$r' | grep -qi 'integrity'"
fi
kill "$ACCEPT_PID"; wait "$ACCEPT_PID" 2>/dev/null
done_testing
