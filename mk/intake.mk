# Webhook intake: rgs-accept, rgs-verify, the spool (lib/rgs_spool).
UNITS += test-intake-spool
test-intake-spool_LIBS := util spool
test-intake-spool_PKGS := jansson
