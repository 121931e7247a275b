#!/usr/bin/env bash
# openapi.yaml: valid OpenAPI 3.1 (@seriousme/openapi-schema-validator),
# every status rgs-verify actually answers is documented with its body's
# shape; /docs rendered by headless Chromium shows every operation, from
# local assets only; screenshot in build/intake-docs.png.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-intake.sh"

export WEBHOOK_SECRET=s3cret-$RANDOM
unset SSH_PRIVATE_KEY
start_accept "$RGS_TMP/d" || { notok "rgs-accept starts"; done_testing; }
url=http://127.0.0.1:$PORT
obs=$RGS_TMP/observed
n=0
observe() { # METHOD PATH curl-args...
  local m=$1 p=$2; shift 2; n=$((n+1))
  local st; st=$(curl -s -o "$RGS_TMP/b.$n" -w '%{http_code}' -X "$m" "$@" "$url$p")
  echo "$m $p $st $RGS_TMP/b.$n" >>"$obs"
}
observe POST /webhooks -H "Authorization: Bearer $WEBHOOK_SECRET" -d "$(body)"
observe POST /webhooks -d "$(body)"
observe POST /webhooks -H "Authorization: Bearer $WEBHOOK_SECRET" -d '{'
observe POST /webhooks -H "Authorization: Bearer $WEBHOOK_SECRET" -d '{"payload":{}}'
observe POST /webhooks -H "Authorization: Bearer $WEBHOOK_SECRET" -H 'Content-Length: 5000000'
observe GET /webhooks
observe GET /health
observe DELETE /health
observe GET /api/pubkey
observe GET /openapi.yaml
observe GET /docs
observe GET /docs/swagger-ui.css
observe GET /docs/rgs-init.js
observe GET /docs/nope.js
node "$RGS_ROOT/tests/intake/openapi-check.js" "$RGS_ROOT/openapi.yaml" "$obs" >"$RGS_TMP/oc"
while read -r line; do
  case $line in ok\ *) ok "${line#ok }" ;; *) notok "${line#not ok }" ;; esac
done <"$RGS_TMP/oc"
t_ok "observed 14 answers" test "$(grep -c ' is documented' "$RGS_TMP/oc")" = 14

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
