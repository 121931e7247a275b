# Work-tree area: rgs-queue, rgs-plan, rgs-apply, the state files and the
# path checks.
UNITS += test-state
test-state_LIBS := util state
test-state_PKGS := jansson
