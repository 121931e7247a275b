#!/usr/bin/env bash
# rgs_toml against an independent TOML 1.0 parser: Python's tomllib.
. "$(dirname "$0")/../lib.sh"
bin=$(dirname "$RGS_BIN")/tests/test-toml
seed=${RGS_SEED:-$RANDOM}
diag "seed $seed"
python3 "$RGS_ROOT/tests/git/toml_diff.py" "$bin" "$seed" 300
