/* libFuzzer target: the canvas exporter (rgs_canvas) on arbitrary canvas
 * data given as JSON {"nodes":{..},"edges":{..},"texts":{..}} (what a
 * hostile canvas document can hold), in all three formats.  The Python
 * and Obsidian outputs must be JSON again. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rgs_canvas.h"
#include "rgs_util.h"

static int text_cb(void *ctx, const char *name, rgs_buf *out)
{
    json_t *t = json_object_get(ctx, name);
    if (!t)
        return -1;
    if (!json_is_string(t))
        return -2;
    rgs_buf_append(out, json_string_value(t), json_string_length(t));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rgs_verbosity = -1;
    json_t *j = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
    if (!j)
        return 0;
    json_t *jn = json_object_get(j, "nodes"), *je = json_object_get(j, "edges");
    rgs_cval *nodes = jn ? rgs_cval_from_json(jn) : NULL, *edges = je ? rgs_cval_from_json(je) : NULL;
    rgs_canvas_input in = {nodes, edges, text_cb, json_object_get(j, "texts")};
    for (int f = RGS_CANVAS_PYTHON; f <= RGS_CANVAS_OBSIDIAN; f++) {
        rgs_buf out = RGS_BUF_INIT;
        char why[200];
        if (rgs_canvas_render(&in, (enum rgs_canvas_format)f, &out, why) == 0) {
            json_t *back = json_loadb(out.data, out.len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
            /* Python's NaN/Infinity literals are not JSON; jansson input has none */
            if (!back) {
                fprintf(stderr, "format %d output is not JSON:\n%.*s\n", f, (int)out.len, out.data);
                abort();
            }
            json_decref(back);
        } else if (!why[0]) {
            abort();
        }
        rgs_buf_free(&out);
    }
    rgs_cval_free(nodes);
    rgs_cval_free(edges);
    json_decref(j);
    return 0;
}
