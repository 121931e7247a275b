# Relay-facing area: rgs-fetch (lib/rgs_relay: libcurl client; lib/rgs_canvas:
# canvas export; lib/rgs_folder: filemeta_v0 + docs merge) and the Relay
# stand-in in tests/standin.
TOOLS += rgs-fetch
rgs-fetch_LIBS := util record crypto toml config state folder canvas relay ydoc
rgs-fetch_PKGS := jansson libcurl libcrypto

UNITS += test-fetch-canvas
test-fetch-canvas_LIBS := util canvas ydoc
test-fetch-canvas_PKGS := jansson

UNITS += test-fetch-folder
test-fetch-folder_LIBS := util crypto folder ydoc
test-fetch-folder_PKGS := jansson libcrypto

FUZZERS += download_url
fuzz-download_url_LIBS := util crypto relay
fuzz-download_url_PKGS := jansson libcurl libcrypto
fuzz-download_url_CORPUS := tests/fuzz/corpus/download_url

FUZZERS += canvas
fuzz-canvas_LIBS := util canvas ydoc
fuzz-canvas_PKGS := jansson
fuzz-canvas_CORPUS := tests/fuzz/corpus/canvas

FUZZERS += fetch_doc
fuzz-fetch_doc_LIBS := util crypto canvas folder ydoc
fuzz-fetch_doc_PKGS := jansson libcrypto
fuzz-fetch_doc_CORPUS := tests/fuzz/corpus/fetch_doc
