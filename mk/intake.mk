# Webhook intake: rgs-accept, rgs-verify, the spool (lib/rgs_spool), HTTP
# request parsing (lib/rgs_httpd over libhttp-parser, which has no
# pkg-config file: linked with -lhttp_parser), webhook authentication and
# envelope checks (lib/rgs_webhook).
TOOLS += rgs-verify
rgs-verify_LIBS := util spool httpd webhook crypto sshkey
rgs-verify_PKGS := jansson libcrypto
rgs-verify_LDLIBS := -lhttp_parser -lm

TOOLS += rgs-accept
rgs-accept_LIBS := util
rgs-accept_PKGS :=

UNITS += test-intake-spool
test-intake-spool_LIBS := util spool
test-intake-spool_PKGS := jansson

UNITS += test-intake-webhook
test-intake-webhook_LIBS := util webhook crypto spool
test-intake-webhook_PKGS := jansson libcrypto
test-intake-webhook_LDLIBS := -lm

UNITS += test-intake-httpd
test-intake-httpd_LIBS := util httpd
test-intake-httpd_PKGS :=
test-intake-httpd_LDLIBS := -lhttp_parser

FUZZERS += http
fuzz-http_LIBS := util httpd
fuzz-http_PKGS :=
fuzz-http_LDLIBS := -lhttp_parser
fuzz-http_CORPUS := tests/fuzz/corpus/http

FUZZERS += http_webhook
fuzz-http_webhook_LIBS := util httpd webhook crypto
fuzz-http_webhook_PKGS := jansson libcrypto
fuzz-http_webhook_LDLIBS := -lhttp_parser -lm
fuzz-http_webhook_CORPUS := tests/fuzz/corpus/http_webhook
