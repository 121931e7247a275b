# Work-tree area: rgs-queue, rgs-plan, rgs-apply, the state files and the
# path checks.
UNITS += test-state
test-state_LIBS := util state crypto
test-state_PKGS := jansson libcrypto

UNITS += test-path
test-path_LIBS := util path
test-path_PKGS :=

FUZZERS += path
fuzz-path_LIBS := util path
fuzz-path_PKGS :=
fuzz-path_CORPUS := tests/fuzz/corpus/path

TOOLS += rgs-plan
rgs-plan_LIBS := util record state path crypto config toml
rgs-plan_PKGS := jansson libcrypto

TOOLS += rgs-apply
rgs-apply_LIBS := util record state path crypto
rgs-apply_PKGS := jansson libcrypto

TOOLS += rgs-queue
rgs-queue_LIBS := util record spool config toml
rgs-queue_PKGS := jansson
rgs-queue_LDLIBS := -lm
