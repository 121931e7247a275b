/* libFuzzer target: the whole decode path of lib/rgs_ydoc (parse, integrate,
 * delete set) and every materializer, on arbitrary bytes.  Invariants
 * checked (yjs.md §9.2): no crash or sanitizer report, rgs_ydoc_selfcheck
 * holds (gap-free stores, well-formed lists and key chains), the JSON views
 * are valid JSON (jansson), errors carry an offset inside the input. */
#include "rgs_ydoc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_json(const rgs_buf *b)
{
    /* lone surrogates print as \udXXX like JSON.stringify, and keys may hold
     * NUL (\u0000): valid JSON that jansson refuses */
    if (b->data && (strstr(b->data, "\\ud") || strstr(b->data, "\\u0000")))
        return;
    json_error_t je;
    json_t *j = json_loadb(b->data ? b->data : "", b->len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
    if (!j) {
        fprintf(stderr, "invalid JSON output (%s): %.300s\n", je.text, b->data);
        abort();
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rgs_ydoc *d;
    rgs_ydoc_err e;
    if (rgs_ydoc_decode(data, size, &d, &e) < 0) {
        if (e.offset > size || !e.msg[0]) {
            fprintf(stderr, "error offset %zu outside input of %zu bytes or no message\n", e.offset, size);
            abort();
        }
        return 0;
    }
    char msg[256];
    if (rgs_ydoc_selfcheck(d, msg, sizeof msg) < 0) {
        fprintf(stderr, "selfcheck: %s\n", msg);
        abort();
    }
    rgs_buf b = RGS_BUF_INIT;
    for (size_t i = 0; i < rgs_ydoc_root_count(d); i++) {
        const char *name = rgs_ydoc_root_name(d, i);
        if (!rgs_ydoc_has_root(d, name) && strlen(name) == rgs_ydoc_root_name_len(d, i))
            abort();
        for (int k = RGS_YKIND_GUESS; k <= RGS_YKIND_ARRAY; k++) {
            for (unsigned f = 0; f <= (RGS_YJSON_TYPED_NUMBERS | RGS_YJSON_JS_ORDER); f++) {
                rgs_buf_reset(&b);
                if (rgs_ydoc_json(d, name, (enum rgs_ykind)k, f, &b) == 0)
                    check_json(&b);
            }
        }
        rgs_buf_reset(&b);
        rgs_ydoc_text(d, name, &b);
        rgs_buf_reset(&b);
        if (rgs_ydoc_root_json(d, i, RGS_YKIND_GUESS, RGS_YJSON_JS_ORDER, &b) != 0)
            abort();
        check_json(&b);
    }
    rgs_buf_reset(&b);
    rgs_ydoc_dump(d, &b);
    rgs_buf_free(&b);
    rgs_ydoc_free(d);
    return 0;
}
