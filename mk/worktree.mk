# Work-tree area: rgs-queue, rgs-plan, rgs-apply, the state files and the
# path checks.
UNITS += test-state
test-state_LIBS := util state
test-state_PKGS := jansson

UNITS += test-path
test-path_LIBS := util path
test-path_PKGS :=

FUZZERS += path
fuzz-path_LIBS := util path
fuzz-path_PKGS :=
fuzz-path_CORPUS := tests/fuzz/corpus/path
