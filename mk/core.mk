# Shared modules' unit tests and fuzz targets.
UNITS += test-util
test-util_LIBS := util record crypto
test-util_PKGS := jansson libcrypto

FUZZERS += record
fuzz-record_LIBS := util record
fuzz-record_PKGS := jansson
fuzz-record_CORPUS := tests/fuzz/corpus/record
