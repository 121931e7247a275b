# Yjs decoder area: lib/rgs_ydoc (update v1 -> text/JSON) and rgs-ydoc.
# Users of the library: rgs-x_LIBS += ydoc util, rgs-x_PKGS += jansson.
TOOLS += rgs-ydoc
rgs-ydoc_LIBS := ydoc util
rgs-ydoc_PKGS := jansson

UNITS += test-ydoc
test-ydoc_LIBS := ydoc util
test-ydoc_PKGS := jansson

FUZZERS += ydoc
fuzz-ydoc_LIBS := ydoc util
fuzz-ydoc_PKGS := jansson
fuzz-ydoc_CORPUS := tests/fuzz/corpus/ydoc build/fuzz/seeds/ydoc
# the whole committed yjs corpus (tests/ydoc/corpus) as further seeds
FUZZ_SEEDS += build/fuzz/seeds/ydoc/.done
build/fuzz/seeds/ydoc/.done: $(wildcard tests/ydoc/corpus/*.ndjson) tests/fuzz/ndjson-seeds
	@rm -rf $(@D)
	@tests/fuzz/ndjson-seeds $(@D) $(filter %.ndjson,$^) >/dev/null
	@touch $@
